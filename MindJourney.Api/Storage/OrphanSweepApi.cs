using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MindJourney.Api.Admin;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Storage;

/// <summary>The orphan sweep on an operator's demand (<see cref="OrphanObjectSweep"/>): the same round the background
/// runs, over the days asked, answering what it found and deleted. Recorded in the action log unless a dry run.</summary>
public static class OrphanSweepApi
{
    /// <summary>The action log's name of a sweep that could delete.</summary>
    public const string ActionName = "orphan-sweep";

    /// <summary>Maps on the admin group (<see cref="AdminRoutes.MapAdminGroup"/>), which carries the key and the rules.</summary>
    public static RouteGroupBuilder MapOrphanSweepApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/storage/orphans/sweep", SweepOrphans)
            .WithName("SweepOrphanObjects")
            .WithSummary("Delete the stored objects of the last days that no answer names (dryRun=true: only count them)");
        return admin;
    }

    /// <summary><paramref name="days"/> is read as text, so a value that is not a number is refused like one out of
    /// range (400 with <c>errors.days</c>), not by the binder.</summary>
    public static async Task<Results<Ok<OrphanSweepResult>, ValidationProblem, ProblemHttpResult>> SweepOrphans(
        string? days, bool? dryRun, OrphanObjectSweep sweep, AdminActionLog actions, ClaimsPrincipal admin,
        IOptions<StorageOptions> options, CancellationToken cancellationToken)
    {
        var dayCount = options.Value.OrphanSweepDays;
        if (days is not null && (!int.TryParse(days, NumberStyles.None, CultureInfo.InvariantCulture, out dayCount)
            || dayCount is < 1 or > StorageOptions.MaxOrphanSweepDays))
        {
            return Problems.Invalid(new Dictionary<string, string[]>
            {
                ["days"] = [$"days must be a whole number between 1 and {StorageOptions.MaxOrphanSweepDays}."],
            });
        }

        // Not configured is the deployment's state, not an outage: 409, which no client retries as if it would pass.
        if (!sweep.IsConfigured)
        {
            return Problems.Create(StatusCodes.Status409Conflict, "Storage not configured",
                "No storage is configured, so there is nothing to sweep.", "storage-not-configured");
        }

        OrphanSweepResult? result;
        try
        {
            result = await sweep.SweepAsync(dayCount, dryRun ?? false, cancellationToken);
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            // What was deleted before stays deleted; a repeat goes on from there.
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "Storage unavailable",
                "Storage could not be reached to finish the sweep: send the request again.");
        }

        if (result is null)
        {
            return Problems.Create(StatusCodes.Status409Conflict, "Sweep running",
                "Another API instance is sweeping orphan objects now: send the request again when it is done.", "sweep-running");
        }

        if (!result.DryRun)
        {
            await actions.RecordAsync(admin, ActionName, result, ApiJsonContext.Default.OrphanSweepResult);
        }

        return TypedResults.Ok(result);
    }
}
