using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Responses;

public static class ResponsesServiceExtensions
{
    /// <summary>A participant's answers: taking one in, recording it, and reading a session's back a page at a time.</summary>
    public static IHostApplicationBuilder AddResponses(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ResponsesOptions>().BindConfiguration(ResponsesOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ResponsesTelemetry>();
        builder.Services.AddSingleton<ResponseRecorder>();
        builder.Services.AddSingleton<AnswerBatcher>();
        builder.Services.AddSingleton<AnswerKeys>();
        builder.Services.AddSingleton<FileIntake>();
        builder.Services.AddSingleton<ResponseIntake>();
        builder.Services.AddSingleton<ResponsePages>();
        return builder;
    }
}
