using Microsoft.Extensions.Configuration;
using MindJourney;
using MindJourney.AppHost;

// MindJourney at a glance:
//
//   browser / load harness ──HTTP :5000──► api (1..N replicas) ──► PostgreSQL "mindjourney"
//                                                               ├─► firebase-storage (GCS JSON API, :9199)
//                                                               └─► dashboard (OTLP traces, metrics, logs)
//
// One replica listens on :5000 itself and sees each client's address; several share it through Aspire's proxy.
// Publishing (--publisher manifest) describes production instead: docs/DEPLOY.md.
var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL: a container, the machine's own server binaries, or an external server (MindJourney:Postgres).
var database = builder.AddMindJourneyDatabase();

// The admin routes' key: generated on the first run and kept in the AppHost's user secrets; the dashboard's audit and
// recovery buttons on the API send it, and so does the numbering health check that can turn the API Degraded.
var adminApiKey = builder.AddParameter(
    "admin-api-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);

// The key under which the API stores Idempotency-Keys (as an HMAC, never as sent): generated and kept like the admin key.
var idempotencySigningKey = builder.AddParameter(
    "idempotency-signing-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);

// The key under which the API issues studies' pilot tokens (an HMAC, never stored): generated and kept the same way.
var pilotSigningKey = builder.AddParameter(
    "pilot-signing-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);

// Uploads: our Firebase-Storage-compatible emulator on :9199, the official one, or none (MindJourney:StorageEmulator).
var storage = builder.AddFirebaseStorage();

var replicas = builder.Configuration.ApiReplicas();
var api = builder.AddProject<Projects.MindJourney_Api>("api")
    .WithReference(database, connectionName: ResourceNames.Database)
    .WaitFor(database)
    .WithFirebaseStorage(storage)
    .WithEnvironment("Admin__ApiKey", adminApiKey)
    .WithEnvironment("MindJourney__Idempotency__SigningKey", idempotencySigningKey)
    .WithEnvironment("MindJourney__Pilot__SigningKey", pilotSigningKey)
    .WithAdminCommands(adminApiKey)
    .WithReplicas(replicas)
    .WithParticipantEndpoint(builder.Configuration, replicas)
    .WithApiSettings(builder.Configuration)
    .WithProductionSettings(builder.Configuration)
    .WithSharedMachineRuntime()
    .WithHttpHealthCheck("/health")
    .WithNumberingHealthCheck(adminApiKey)
    .WithExternalHttpEndpoints();

// The load harness: started from the dashboard, never with the rest (MindJourney:LoadTest).
builder.AddLoadTests(api, adminApiKey);

// Plain HTTP on loopback throughout: no development certificate is used, so the dashboard asks for none.
builder.WithoutUnusedHttpsCertificates();

builder.Build().Run();
