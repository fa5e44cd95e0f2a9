using Microsoft.Extensions.Configuration;
using MindJourney.AppHost;

// MindJourney at a glance:
//
//   browser / load harness ──HTTP :5000──► api (1..N replicas) ──► PostgreSQL "mindjourney"
//                                                               └─► dashboard (OTLP traces, metrics, logs)
var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL: a container, the machine's own server binaries, or an external server (MindJourney:Postgres).
var database = builder.AddMindJourneyDatabase();

builder.AddProject<Projects.MindJourney_Api>("api")
    .WithReference(database, connectionName: "mindjourney")
    .WaitFor(database)
    .WithReplicas(builder.Configuration.GetValue("MindJourney:ApiReplicas", 1))
    .WithRateLimitSettings(builder.Configuration)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

builder.Build().Run();
