using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class AnswerKeyIndexLedByKey : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_experiment_responses_idempotency_key",
                table: "experiment_responses");

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_idempotency_key",
                table: "experiment_responses",
                columns: new[] { "idempotency_key", "session_id" },
                unique: true,
                filter: "idempotency_key IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_experiment_responses_idempotency_key",
                table: "experiment_responses");

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_idempotency_key",
                table: "experiment_responses",
                columns: new[] { "session_id", "idempotency_key" },
                unique: true,
                filter: "idempotency_key IS NOT NULL");
        }
    }
}
