using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class UnnumberedSessionsIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_experiment_sessions_unnumbered",
                table: "experiment_sessions",
                columns: new[] { "created_at", "id" },
                filter: "visitor_number IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_experiment_sessions_unnumbered",
                table: "experiment_sessions");
        }
    }
}
