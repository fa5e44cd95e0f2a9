namespace MindJourney;

/// <summary>Names the AppHost gives and the API looks up. This one file is compiled into both projects (the API
/// links it), so each name is written once.</summary>
internal static class ResourceNames
{
    /// <summary>The database, and the connection string the API reads (<c>ConnectionStrings:mindjourney</c>).</summary>
    public const string Database = "mindjourney";

    /// <summary>The bucket the storage emulators serve in development, and the API's bucket with an emulator when
    /// none is named.</summary>
    public const string DevelopmentBucket = "mindjourney-dev.appspot.com";
}
