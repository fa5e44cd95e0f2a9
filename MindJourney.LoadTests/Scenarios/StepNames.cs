namespace MindJourney.LoadTests.Scenarios;

/// <summary>Each kind of HTTP call is a step, reported on its own row.</summary>
public static class StepNames
{
    public const string GetExperiment = "get_experiment";
    public const string CreateSession = "create_session";
    public const string GetLevels = "get_levels";
    public const string PostResponse = "post_response";
    public const string Upload = "upload";
    public const string PatchSession = "patch_session";
}
