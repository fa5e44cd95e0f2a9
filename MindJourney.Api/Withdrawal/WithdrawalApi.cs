using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Api.Admin;
using MindJourney.Api.Infrastructure;
using Npgsql;

namespace MindJourney.Api.Withdrawal;

/// <summary>A person's withdrawal: by a researcher (the admin key, by user id) or by the participant (a session's
/// secret, <c>DELETE /api/session/{id}</c>, mapped on the session group with its rules). Both are recorded in the
/// action log by user id and visitor number, never with the person's data.</summary>
public static class WithdrawalApi
{
    /// <summary>The action log's names of the two ways in.</summary>
    public const string ByResearcher = "withdrawal";
    public const string ByParticipant = "participant-withdrawal";

    /// <summary>The action log's key fingerprint for a participant's own withdrawal (they hold no admin key).</summary>
    public const string ParticipantFingerprint = "participant";

    /// <summary>Maps on the admin group (<see cref="AdminRoutes.MapAdminGroup"/>).</summary>
    public static RouteGroupBuilder MapWithdrawalApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/users/{userId:guid}/withdraw", WithdrawPerson)
            .WithName("WithdrawPerson")
            .WithSummary("Erase a person's answers, files, session data and panel ids; keep their visitor number");
        return admin;
    }

    public static async Task<Results<Ok<WithdrawalResult>, ProblemHttpResult>> WithdrawPerson(Guid userId,
        [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] WithdrawRequest? request,
        PersonWithdrawal withdrawal, AdminActionLog actions, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var (result, cleared) = await withdrawal.WithdrawAsync(userId, cancellationToken);
        if (result is null)
        {
            return Problems.NotFound($"No user with id '{userId}'.");
        }

        await actions.RecordAsync(admin, ByResearcher, LogEntry(result, request?.Reason), ApiJsonContext.Default.WithdrawalLogEntry);
        return cleared ? TypedResults.Ok(result) : StorageLeft();
    }

    /// <summary><c>DELETE /api/session/{id}</c>: the session's person withdraws (the secret was checked before).</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> WithdrawSessionPerson(Guid id, NpgsqlDataSource dataSource,
        PersonWithdrawal withdrawal, AdminActionLog actions, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT user_id FROM experiment_sessions WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        if (await command.ExecuteScalarAsync(cancellationToken) is not Guid userId)
        {
            return Problems.NotFound($"No session with id '{id}'."); // only the admin key reaches here for an unknown id
        }

        var (result, cleared) = await withdrawal.WithdrawAsync(userId, cancellationToken);
        if (result is null)
        {
            return Problems.NotFound($"No session with id '{id}'.");
        }

        await actions.RecordAsync(ParticipantFingerprint, ByParticipant, LogEntry(result, reason: null),
            ApiJsonContext.Default.WithdrawalLogEntry);
        return cleared ? TypedResults.NoContent() : StorageLeft();
    }

    private static WithdrawalLogEntry LogEntry(WithdrawalResult result, string? reason) =>
        new(result.UserId, result.VisitorNumber, reason, result.Erased.Answers, result.Erased.Files);

    /// <summary>The database part is done (nothing more is recorded for them); storage's part is not, and a repeat
    /// finishes it.</summary>
    private static ProblemHttpResult StorageLeft() => Problems.Create(StatusCodes.Status503ServiceUnavailable, "Storage unavailable",
        "The data was erased from the database, but storage could not be reached to delete the files: send the request again.");
}
