namespace MindJourney.Api.Export;

public static class ExportServiceExtensions
{
    /// <summary>The export reads through the storage feature's bulk pool and records to the admin's action log; its
    /// own service is the gate.</summary>
    public static IHostApplicationBuilder AddExport(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ExportGate>();
        return builder;
    }
}
