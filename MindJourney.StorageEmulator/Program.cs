// MindJourney.StorageEmulator: a Firebase-Storage-compatible emulator (GCS JSON API subset + Firebase /v0 routes).
// Settings: Storage:DataPath (folder kept across restarts), Storage:InMemory=true, --urls / ASPNETCORE_URLS
// (default http://127.0.0.1:9199). See StorageEmulatorServer for in-process hosting.
var app = MindJourney.StorageEmulator.StorageEmulatorServer.CreateApp(args);
await app.RunAsync();
