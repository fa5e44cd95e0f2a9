using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class PublicLinkSafety : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "rejected_at",
                table: "storage_deliveries",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "idempotency_fingerprint",
                table: "experiment_sessions",
                type: "bytea",
                nullable: true);

            migrationBuilder.AddColumn<byte[][]>(
                name: "secret_hashes",
                table: "experiment_sessions",
                type: "bytea[]",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "file_size_bytes",
                table: "experiment_responses",
                type: "bigint",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "rejected_at",
                table: "storage_deliveries");

            migrationBuilder.DropColumn(
                name: "idempotency_fingerprint",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "secret_hashes",
                table: "experiment_sessions");

            migrationBuilder.DropColumn(
                name: "file_size_bytes",
                table: "experiment_responses");
        }
    }
}
