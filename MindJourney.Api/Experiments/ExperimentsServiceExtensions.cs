namespace MindJourney.Api.Experiments;

public static class ExperimentsServiceExtensions
{
    /// <summary>Studies: the pilot tokens and their signing key, checked at start; the enrollment query.</summary>
    public static IHostApplicationBuilder AddExperiments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PilotOptions>().BindConfiguration(PilotOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PilotTokens>();
        builder.Services.AddSingleton<StudyEnrollment>();
        return builder;
    }
}
