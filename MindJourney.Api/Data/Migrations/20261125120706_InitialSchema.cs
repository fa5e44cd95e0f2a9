using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

#pragma warning disable CA1814 // Prefer jagged arrays over multidimensional

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateSequence<int>(
                name: "visitor_counter_sequence");

            migrationBuilder.CreateTable(
                name: "experiments",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    title = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    description = table.Column<string>(type: "text", nullable: true),
                    total_levels = table.Column<int>(type: "integer", nullable: false),
                    is_active = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_experiments", x => x.id);
                    table.CheckConstraint("ck_experiments_total_levels", "total_levels > 0");
                });

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    is_anonymous = table.Column<bool>(type: "boolean", nullable: false),
                    visitor_number = table.Column<int>(type: "integer", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_users", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "experiment_levels",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    experiment_id = table.Column<Guid>(type: "uuid", nullable: false),
                    level_number = table.Column<int>(type: "integer", nullable: false),
                    title = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    description = table.Column<string>(type: "text", nullable: true),
                    questions = table.Column<string>(type: "jsonb", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_experiment_levels", x => x.id);
                    table.ForeignKey(
                        name: "fk_experiment_levels_experiments_experiment_id",
                        column: x => x.experiment_id,
                        principalTable: "experiments",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "experiment_sessions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<Guid>(type: "uuid", nullable: false),
                    experiment_id = table.Column<Guid>(type: "uuid", nullable: false),
                    visitor_number = table.Column<int>(type: "integer", nullable: true),
                    current_level = table.Column<int>(type: "integer", nullable: false),
                    branching_path = table.Column<string>(type: "text", nullable: true),
                    is_completed = table.Column<bool>(type: "boolean", nullable: false),
                    session_data = table.Column<string>(type: "jsonb", nullable: true),
                    idempotency_key = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_experiment_sessions", x => x.id);
                    table.ForeignKey(
                        name: "fk_experiment_sessions_experiments_experiment_id",
                        column: x => x.experiment_id,
                        principalTable: "experiments",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_experiment_sessions_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "experiment_responses",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<Guid>(type: "uuid", nullable: false),
                    visitor_number = table.Column<int>(type: "integer", nullable: true),
                    level_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    question_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    response_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    response_data = table.Column<string>(type: "jsonb", nullable: false),
                    file_id = table.Column<string>(type: "text", nullable: true),
                    file_url = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_experiment_responses", x => x.id);
                    table.ForeignKey(
                        name: "fk_experiment_responses_experiment_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "experiment_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_experiment_responses_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.InsertData(
                table: "experiments",
                columns: new[] { "id", "created_at", "description", "is_active", "title", "total_levels" },
                values: new object[] { new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"), new DateTimeOffset(new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), "A short journey in four levels: a few questions, one spoken or filmed answer.", true, "MindJourney", 4 });

            migrationBuilder.InsertData(
                table: "experiment_levels",
                columns: new[] { "id", "created_at", "description", "experiment_id", "level_number", "questions", "title" },
                values: new object[,]
                {
                    { new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a2001"), new DateTimeOffset(new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), null, new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"), 1, "[{\"id\":\"q1\",\"type\":\"text\",\"prompt\":\"What brought you here today?\"}]", "Warm-up" },
                    { new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a2002"), new DateTimeOffset(new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), null, new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"), 2, "[{\"id\":\"q2\",\"type\":\"text\",\"prompt\":\"Describe a moment this week when you felt focused.\"},{\"id\":\"q3\",\"type\":\"text\",\"prompt\":\"What usually breaks your focus?\"}]", "Reflection" },
                    { new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a2003"), new DateTimeOffset(new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), null, new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"), 3, "[{\"id\":\"q4\",\"type\":\"video\",\"prompt\":\"Record a short video or voice note: how do you plan your day?\",\"accepts\":[\"video\",\"voice\"]}]", "In your own voice" },
                    { new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a2004"), new DateTimeOffset(new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), null, new Guid("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"), 4, "[{\"id\":\"q5\",\"type\":\"text\",\"prompt\":\"Anything else you would like to tell us?\"}]", "Wrap-up" }
                });

            migrationBuilder.CreateIndex(
                name: "ix_experiment_levels_experiment_id_level_number",
                table: "experiment_levels",
                columns: new[] { "experiment_id", "level_number" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_session_id_created_at",
                table: "experiment_responses",
                columns: new[] { "session_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_user_id",
                table: "experiment_responses",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "ix_experiment_sessions_experiment_id",
                table: "experiment_sessions",
                column: "experiment_id");

            migrationBuilder.CreateIndex(
                name: "ix_experiment_sessions_idempotency_key",
                table: "experiment_sessions",
                column: "idempotency_key",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_experiment_sessions_user_id",
                table: "experiment_sessions",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "ix_experiment_sessions_visitor_number",
                table: "experiment_sessions",
                column: "visitor_number");

            migrationBuilder.CreateIndex(
                name: "ix_users_visitor_number",
                table: "users",
                column: "visitor_number",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "experiment_levels");

            migrationBuilder.DropTable(
                name: "experiment_responses");

            migrationBuilder.DropTable(
                name: "experiment_sessions");

            migrationBuilder.DropTable(
                name: "experiments");

            migrationBuilder.DropTable(
                name: "users");

            migrationBuilder.DropSequence(
                name: "visitor_counter_sequence");
        }
    }
}
