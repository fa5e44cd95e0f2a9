using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class ResearcherSide : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_users_visitor_number",
                table: "users");

            migrationBuilder.CreateSequence<int>(
                name: "pilot_counter_sequence");

            migrationBuilder.AddColumn<string>(
                name: "mode",
                table: "users",
                type: "character varying(8)",
                maxLength: 8,
                nullable: false,
                defaultValue: "live");

            migrationBuilder.AddColumn<string>(
                name: "condition_scheme",
                table: "experiments",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "cycle");

            migrationBuilder.AddColumn<string[]>(
                name: "conditions",
                table: "experiments",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]");

            migrationBuilder.AddColumn<string>(
                name: "condition",
                table: "experiment_sessions",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);

            migrationBuilder.AddColumn<string[]>(
                name: "condition_order",
                table: "experiment_sessions",
                type: "text[]",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "mode",
                table: "experiment_sessions",
                type: "character varying(8)",
                maxLength: 8,
                nullable: false,
                defaultValue: "live");

            migrationBuilder.AddColumn<string>(
                name: "file_md5",
                table: "experiment_responses",
                type: "text",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "admin_actions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    key_fingerprint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    action = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    details = table.Column<string>(type: "jsonb", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_admin_actions", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "condition_tallies",
                columns: table => new
                {
                    experiment_id = table.Column<Guid>(type: "uuid", nullable: false),
                    mode = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    condition = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    started = table.Column<long>(type: "bigint", nullable: false),
                    completed = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_condition_tallies", x => new { x.experiment_id, x.mode, x.condition });
                    table.ForeignKey(
                        name: "fk_condition_tallies_experiments_experiment_id",
                        column: x => x.experiment_id,
                        principalTable: "experiments",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.UpdateData(
                table: "experiments",
                keyColumn: "id",
                keyValue: new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"),
                columns: new[] { "condition_scheme", "conditions" },
                values: new object[] { "cycle", new[] { "control", "treatment" } });

            migrationBuilder.CreateIndex(
                name: "ix_users_mode_visitor_number",
                table: "users",
                columns: new[] { "mode", "visitor_number" },
                unique: true);

            migrationBuilder.AddCheckConstraint(
                name: "ck_users_mode",
                table: "users",
                sql: "mode IN ('live', 'pilot')");

            migrationBuilder.AddCheckConstraint(
                name: "ck_experiments_condition_scheme",
                table: "experiments",
                sql: "condition_scheme IN ('cycle', 'latin-square', 'least-filled')");

            migrationBuilder.AddCheckConstraint(
                name: "ck_experiment_sessions_mode",
                table: "experiment_sessions",
                sql: "mode IN ('live', 'pilot')");

            migrationBuilder.CreateIndex(
                name: "ix_admin_actions_at",
                table: "admin_actions",
                column: "at");
            // The order of conditions for a visitor under the latin-square scheme: row (n - 1) mod rows of a balanced
            // (Williams) Latin square, so each condition precedes each other equally often. k rows when k is even;
            // 2k when k is odd (each row and its mirror). Pure, so it can be recomputed from the number alone.
            migrationBuilder.Sql("""
                CREATE FUNCTION latin_square_order(conditions text[], visitor_number bigint) RETURNS text[]
                LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
                    SELECT array_agg(conditions[1 + (
                               CASE WHEN p = 0 THEN 0 WHEN p % 2 = 1 THEN (p + 1) / 2 ELSE k - p / 2 END + r % k) % k]
                           ORDER BY j)
                    FROM (SELECT cardinality(conditions) AS k,
                                 (visitor_number - 1) % (CASE WHEN cardinality(conditions) % 2 = 0
                                     THEN cardinality(conditions) ELSE 2 * cardinality(conditions) END) AS r) s
                    CROSS JOIN generate_series(0, s.k - 1) AS j
                    CROSS JOIN LATERAL (SELECT CASE WHEN s.r >= s.k THEN s.k - 1 - j ELSE j END AS p) o
                    WHERE s.k > 0 AND visitor_number >= 1
                $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP FUNCTION latin_square_order(text[], bigint);");

            migrationBuilder.DropTable(
                name: "admin_actions");

            migrationBuilder.DropTable(
                name: "condition_tallies");

            migrationBuilder.DropIndex(
                name: "ix_users_mode_visitor_number",
                table: "users");

            migrationBuilder.DropCheckConstraint(
                name: "ck_users_mode",
                table: "users");

            migrationBuilder.DropCheckConstraint(
                name: "ck_experiments_condition_scheme",
                table: "experiments");

            migrationBuilder.DropCheckConstraint(
                name: "ck_experiment_sessions_mode",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "mode",
                table: "users");

            migrationBuilder.DropColumn(
                name: "condition_scheme",
                table: "experiments");

            migrationBuilder.DropColumn(
                name: "conditions",
                table: "experiments");

            migrationBuilder.DropColumn(
                name: "condition",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "condition_order",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "mode",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "file_md5",
                table: "experiment_responses");

            migrationBuilder.DropSequence(
                name: "pilot_counter_sequence");

            migrationBuilder.CreateIndex(
                name: "ix_users_visitor_number",
                table: "users",
                column: "visitor_number",
                unique: true);
        }
    }
}
