using Microsoft.Extensions.Options;
using MindJourney.Api;
using MindJourney.Api.Admin;
using MindJourney.Api.Data;
using MindJourney.Api.Experiments;
using MindJourney.Api.Export;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Api.Storage;
using MindJourney.Api.Withdrawal;
using Scalar.AspNetCore;

// The API's own folder holds its appsettings.json: started from anywhere else (a benchmark runs the built dll from
// the repository root) it would run without them, with every database command logged at Information.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json")) ? null : AppContext.BaseDirectory,
});

builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.AddGracefulShutdown();

var app = builder.Build();

// Every setting is checked now, before the pipeline is built or the database touched: a wrong one stops the start
// with a message naming it.
app.Services.GetRequiredService<IStartupValidator>().Validate();

app.UseTrustedProxies();
app.UseSecurityHeaders();
app.UseWarmUpGate();
// Before the exception handler, so that the refusals it writes (binding failures, refused data) are logged too.
app.UseMiddleware<ClientErrorLogging>();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.UseAuthentication();
app.UseAuthorization();
// Before any endpoint binds its parameters: a caller without a session's secret is refused before its body is read.
app.UseSessionAccess();

// The API reference only where developers run it: a public deployment does not publish its own map.
if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
    app.MapScalarApiReference();
}

app.UseDefaultFiles();
app.UseStaticFiles();

app.MapDefaultEndpoints();
app.MapExperimentsApi();
app.MapSessionsApi();
app.MapResponsesApi();
app.MapStorageApi();
app.MapAdminGroup().MapAdminApi().MapExportApi().MapStudiesApi().MapWithdrawalApi().MapOrphanSweepApi();

await app.MigrateDatabaseAsync();
app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
