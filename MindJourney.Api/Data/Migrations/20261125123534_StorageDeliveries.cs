using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class StorageDeliveries : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "object_visitor_number",
                table: "experiment_responses",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "storage_status",
                table: "experiment_responses",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "storage_deliveries",
                columns: table => new
                {
                    response_id = table.Column<Guid>(type: "uuid", nullable: false),
                    object_name = table.Column<string>(type: "text", nullable: false),
                    content_type = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    size_bytes = table.Column<long>(type: "bigint", nullable: false),
                    md5_hash = table.Column<string>(type: "text", nullable: false),
                    original_name = table.Column<string>(type: "text", nullable: false),
                    uploaded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    next_attempt_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    last_error = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_storage_deliveries", x => x.response_id);
                    table.ForeignKey(
                        name: "fk_storage_deliveries_experiment_responses_response_id",
                        column: x => x.response_id,
                        principalTable: "experiment_responses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "storage_delivery_chunks",
                columns: table => new
                {
                    response_id = table.Column<Guid>(type: "uuid", nullable: false),
                    sequence = table.Column<int>(type: "integer", nullable: false),
                    data = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_storage_delivery_chunks", x => new { x.response_id, x.sequence });
                    table.ForeignKey(
                        name: "fk_storage_delivery_chunks_storage_deliveries_response_id",
                        column: x => x.response_id,
                        principalTable: "storage_deliveries",
                        principalColumn: "response_id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Uploads are mostly compressed media: store the chunks out of line without trying to compress them.
            migrationBuilder.Sql("ALTER TABLE storage_delivery_chunks ALTER COLUMN data SET STORAGE EXTERNAL;");

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_file_id",
                table: "experiment_responses",
                column: "file_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_experiment_responses_object_number_stale",
                table: "experiment_responses",
                column: "id",
                filter: "storage_status = 'stored' AND visitor_number IS DISTINCT FROM object_visitor_number");

            migrationBuilder.CreateIndex(
                name: "ix_storage_deliveries_next_attempt_at",
                table: "storage_deliveries",
                column: "next_attempt_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "storage_delivery_chunks");

            migrationBuilder.DropTable(
                name: "storage_deliveries");

            migrationBuilder.DropIndex(
                name: "ix_experiment_responses_file_id",
                table: "experiment_responses");

            migrationBuilder.DropIndex(
                name: "ix_experiment_responses_object_number_stale",
                table: "experiment_responses");

            migrationBuilder.DropColumn(
                name: "object_visitor_number",
                table: "experiment_responses");

            migrationBuilder.DropColumn(
                name: "storage_status",
                table: "experiment_responses");
        }
    }
}
