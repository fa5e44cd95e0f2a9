using MindJourney.LoadTests.Cli;
using MindJourney.LoadTests.Metrics;

// Under the AppHost the client's metrics go to the dashboard; from a terminal nothing is exported.
using var telemetry = LoadTestTelemetry.ExportIfConfigured();
return await CliApp.RunAsync(args, CliEnvironment.FromProcess()).ConfigureAwait(false);
