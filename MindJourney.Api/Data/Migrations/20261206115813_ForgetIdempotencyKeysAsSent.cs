using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MindJourney.Api.Data.Migrations
{
    /// <summary>Idempotency-Keys are kept as their HMAC from now on; those stored before were kept as sent, and no
    /// new key can match them. They are forgotten at once instead of within their lifetime: a click retried across
    /// the deploy starts a new session, as a key past its lifetime does.</summary>
    public partial class ForgetIdempotencyKeysAsSent : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                "UPDATE experiment_sessions SET idempotency_key = NULL, idempotency_fingerprint = NULL WHERE idempotency_key IS NOT NULL;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Nothing to restore: the keys as sent are gone, and their HMACs replay nothing for an older API.
        }
    }
}
