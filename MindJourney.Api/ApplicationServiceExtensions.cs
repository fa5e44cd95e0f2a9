using MindJourney.Api.Admin;
using MindJourney.Api.Data;
using MindJourney.Api.Experiments;
using MindJourney.Api.Export;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Api.Withdrawal;

namespace MindJourney.Api;

public static class ApplicationServiceExtensions
{
    /// <summary>The API's features, one line each; every feature folder registers its own services and settings.</summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();

        builder.Services.AddSingleton<VisitorNumberingTelemetry>();
        builder.AddExperiments();
        builder.AddSessions();
        builder.AddResponses();
        builder.AddStorage();
        builder.AddAdmin();
        builder.AddExport();
        builder.AddWithdrawal();
        builder.AddHttpRules();

        builder.Services.AddOpenApi();

        return builder;
    }
}
