using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class AnswerCountersAndKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "from_answer_text",
                table: "storage_deliveries",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "file_count",
                table: "experiment_sessions",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "response_count",
                table: "experiment_sessions",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<long>(
                name: "stored_bytes",
                table: "experiment_sessions",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            // What every session already holds, as the quota check used to count it from its rows.
            migrationBuilder.Sql("""
                UPDATE experiment_sessions s
                SET response_count = u.responses, file_count = u.files, stored_bytes = u.bytes
                FROM (SELECT session_id, count(*) AS responses,
                             count(*) FILTER (WHERE file_size_bytes IS NOT NULL AND response_type <> 'text') AS files,
                             coalesce(sum(file_size_bytes), 0) + coalesce(sum(response_data_bytes), 0) AS bytes
                      FROM experiment_responses GROUP BY session_id) u
                WHERE s.id = u.session_id
                """);

            migrationBuilder.AddColumn<byte[]>(
                name: "idempotency_fingerprint",
                table: "experiment_responses",
                type: "bytea",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "idempotency_key",
                table: "experiment_responses",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_idempotency_key",
                table: "experiment_responses",
                columns: new[] { "session_id", "idempotency_key" },
                unique: true,
                filter: "idempotency_key IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_experiment_responses_idempotency_key",
                table: "experiment_responses");

            migrationBuilder.DropColumn(
                name: "from_answer_text",
                table: "storage_deliveries");

            migrationBuilder.DropColumn(
                name: "file_count",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "response_count",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "stored_bytes",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "idempotency_fingerprint",
                table: "experiment_responses");

            migrationBuilder.DropColumn(
                name: "idempotency_key",
                table: "experiment_responses");
        }
    }
}
