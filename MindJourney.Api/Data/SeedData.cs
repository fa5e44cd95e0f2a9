using Microsoft.EntityFrameworkCore;

namespace MindJourney.Api.Data;

/// <summary>A default open study, so a fresh system can run a participant end to end.
/// Fixed ids keep the migration deterministic.</summary>
internal static class SeedData
{
    public static readonly Guid DefaultExperimentId = new("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001");
    private static readonly DateTimeOffset SeededAt = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static void Apply(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Experiment>().HasData(new Experiment
        {
            Id = DefaultExperimentId,
            Title = "MindJourney",
            Description = "A short journey in four levels: a few questions, one spoken or filmed answer.",
            TotalLevels = 4,
            Slug = "mindjourney",
            Status = StudyStatuses.Open,
            OpenedAt = SeededAt,
            Conditions = ["control", "treatment"],
            ConditionScheme = ConditionSchemes.Cycle,
            CreatedAt = SeededAt,
        });

        modelBuilder.Entity<ExperimentLevel>().HasData(
            Level(1, "Warm-up", """[{"id":"q1","type":"text","prompt":"What brought you here today?"}]"""),
            Level(2, "Reflection",
                """[{"id":"q2","type":"text","prompt":"Describe a moment this week when you felt focused."},"""
                + """{"id":"q3","type":"text","prompt":"What usually breaks your focus?"}]"""),
            Level(3, "In your own voice",
                """[{"id":"q4","type":"video","prompt":"Record a short video or voice note: """
                + """how do you plan your day?","accepts":["video","voice"]}]"""),
            Level(4, "Wrap-up", """[{"id":"q5","type":"text","prompt":"Anything else you would like to tell us?"}]"""));
    }

    private static ExperimentLevel Level(int number, string title, string questions) => new()
    {
        Id = new Guid($"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a2{number:000}"),
        ExperimentId = DefaultExperimentId,
        LevelNumber = number,
        Title = title,
        Questions = questions,
        CreatedAt = SeededAt,
    };
}
