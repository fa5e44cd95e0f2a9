using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;

namespace MindJourney.Api.Data;

public sealed class MindJourneyDbContext(DbContextOptions<MindJourneyDbContext> options) : DbContext(options)
{
    /// <summary>Source of visitor numbers. CACHE 1 (PostgreSQL's default) keeps numbers in arrival order
    /// across connections and replicas; a larger cache would hand out numbers out of order.</summary>
    public const string VisitorNumberSequence = "visitor_counter_sequence";

    /// <summary>Source of pilot numbers ("Pilot #N"): a pilot never moves the live sequence.</summary>
    public const string PilotNumberSequence = "pilot_counter_sequence";

    /// <summary>The unique index of an answer's Idempotency-Key within its session: a second insert of one key fails on it.</summary>
    public const string AnswerKeyIndex = "ix_experiment_responses_idempotency_key";

    /// <summary>The last live number handed out (0 before the first), for the audit and the health check.</summary>
    public const string VisitorNumberPositionSql =
        $"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {VisitorNumberSequence}";

    public DbSet<Experiment> Experiments => Set<Experiment>();
    public DbSet<ExperimentLevel> ExperimentLevels => Set<ExperimentLevel>();
    public DbSet<User> Users => Set<User>();
    public DbSet<ExperimentSession> ExperimentSessions => Set<ExperimentSession>();
    public DbSet<ExperimentResponse> ExperimentResponses => Set<ExperimentResponse>();
    public DbSet<StorageDelivery> StorageDeliveries => Set<StorageDelivery>();
    public DbSet<StorageDeliveryChunk> StorageDeliveryChunks => Set<StorageDeliveryChunk>();
    public DbSet<ConditionTally> ConditionTallies => Set<ConditionTally>();
    public DbSet<Recruitment> Recruitments => Set<Recruitment>();
    public DbSet<AdminAction> AdminActions => Set<AdminAction>();

    private const string ModeCheck = $"mode IN ('{SessionModes.Live}', '{SessionModes.Pilot}')";

    // Indexes are declared below, each for the queries that read it: a foreign key gets none of its own. (EF's
    // convention gave experiment_sessions.experiment_id one that no query reads: one more B-tree insert per Play.)
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.Conventions.Remove(typeof(ForeignKeyIndexConvention));

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasSequence<int>(VisitorNumberSequence).StartsAt(1).IncrementsBy(1);
        modelBuilder.HasSequence<int>(PilotNumberSequence).StartsAt(1).IncrementsBy(1);

        modelBuilder.Entity<Experiment>(e =>
        {
            e.ToTable("experiments", t =>
            {
                t.HasCheckConstraint("ck_experiments_total_levels", "total_levels > 0");
                t.HasCheckConstraint("ck_experiments_condition_scheme",
                    $"condition_scheme IN ('{ConditionSchemes.Cycle}', '{ConditionSchemes.LatinSquare}', "
                    + $"'{ConditionSchemes.LeastFilled}')");
                t.HasCheckConstraint("ck_experiments_status",
                    $"status IN ('{StudyStatuses.Draft}', '{StudyStatuses.Open}', '{StudyStatuses.Closed}')");
                t.HasCheckConstraint("ck_experiments_max_participants", "max_participants > 0");
                // The cap, kept by the database too: a statement that would number past it fails instead.
                t.HasCheckConstraint("ck_experiments_participants_within_cap",
                    "max_participants IS NULL OR participants_numbered <= max_participants");
            });
            e.Property(x => x.Title).HasMaxLength(200);
            e.Property(x => x.Slug).HasMaxLength(64);
            e.HasIndex(x => x.Slug).IsUnique();
            e.Property(x => x.Status).HasMaxLength(8).HasDefaultValue(StudyStatuses.Draft);
            e.Property(x => x.CompletionUrl).HasMaxLength(2000);
            e.Property(x => x.SonaParameter).HasMaxLength(64);
            e.Property(x => x.Conditions).HasDefaultValueSql("'{}'::text[]");
            e.Property(x => x.ConditionScheme).HasMaxLength(16).HasDefaultValue(ConditionSchemes.Cycle);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.HasMany(x => x.Levels).WithOne().HasForeignKey(x => x.ExperimentId);
        });

        modelBuilder.Entity<ExperimentLevel>(e =>
        {
            e.ToTable("experiment_levels");
            e.Property(x => x.Title).HasMaxLength(200);
            e.Property(x => x.Questions).HasColumnType("jsonb");
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.HasIndex(x => new { x.ExperimentId, x.LevelNumber }).IsUnique();
        });

        modelBuilder.Entity<User>(e =>
        {
            e.ToTable("users", t => t.HasCheckConstraint("ck_users_mode", ModeCheck));
            e.Property(x => x.Mode).HasMaxLength(8).HasDefaultValue(SessionModes.Live);
            // Numbers are unique within a mode: live numbers and pilot numbers come from different sequences.
            e.HasIndex(x => new { x.Mode, x.VisitorNumber }).IsUnique();
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.Property(x => x.UpdatedAt).HasDefaultValueSql("now()");
        });

        modelBuilder.Entity<ExperimentSession>(e =>
        {
            e.ToTable("experiment_sessions", t => t.HasCheckConstraint("ck_experiment_sessions_mode", ModeCheck));
            e.Property(x => x.SessionData).HasColumnType("jsonb");
            e.Property(x => x.Mode).HasMaxLength(8).HasDefaultValue(SessionModes.Live);
            e.Property(x => x.Condition).HasMaxLength(100);
            e.HasIndex(x => x.IdempotencyKey).IsUnique();
            e.HasIndex(x => x.UserId);
            e.HasIndex(x => x.VisitorNumber);
            // One study's sessions, newest first: the participant list and the export of one study, its counts.
            e.HasIndex(x => new { x.ExperimentId, x.Id });
            // Recovery and the audit look for sessions still without a number, oldest first: keep that set indexed.
            e.HasIndex(x => new { x.CreatedAt, x.Id }).HasFilter("visitor_number IS NULL")
                .HasDatabaseName("ix_experiment_sessions_unnumbered");
            e.HasOne<User>().WithMany().HasForeignKey(x => x.UserId);
            e.HasOne(x => x.Experiment).WithMany().HasForeignKey(x => x.ExperimentId);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.Property(x => x.UpdatedAt).HasDefaultValueSql("now()");
        });

        modelBuilder.Entity<ExperimentResponse>(e =>
        {
            e.ToTable("experiment_responses");
            e.Property(x => x.LevelId).HasMaxLength(200);
            e.Property(x => x.QuestionId).HasMaxLength(200);
            e.Property(x => x.ResponseType).HasMaxLength(16);
            e.Property(x => x.ResponseData).HasColumnType("jsonb");
            e.HasOne<ExperimentSession>().WithMany().HasForeignKey(x => x.SessionId);
            e.HasOne<User>().WithMany().HasForeignKey(x => x.UserId);
            e.HasIndex(x => x.UserId);
            e.HasIndex(x => new { x.SessionId, x.CreatedAt });
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            // Object names are unique (two uploads never share one), and the admin recovery finds rows by them.
            e.HasIndex(x => x.FileId).IsUnique();
            // A replayed answer finds its first by key, and two requests with one key cannot both insert. Led by the key, so
            // that a lookup by key cannot be served by the session's other index (AnswerSql.FindByKey).
            e.HasIndex(x => new { x.IdempotencyKey, x.SessionId }).IsUnique().HasFilter("idempotency_key IS NOT NULL")
                .HasDatabaseName(AnswerKeyIndex);
            e.Property(x => x.StorageStatus).HasMaxLength(16);
            // Only stored objects whose metadata lags the row's number: the storage worker's to-do list stays tiny.
            e.HasIndex(x => x.Id).HasFilter("storage_status = 'stored' AND visitor_number IS DISTINCT FROM object_visitor_number")
                .HasDatabaseName("ix_experiment_responses_object_number_stale");
        });

        modelBuilder.Entity<StorageDelivery>(e =>
        {
            e.ToTable("storage_deliveries");
            e.HasKey(x => x.ResponseId);
            e.HasOne<ExperimentResponse>().WithOne().HasForeignKey<StorageDelivery>(x => x.ResponseId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => x.NextAttemptAt);
            e.Property(x => x.ContentType).HasMaxLength(200);
            e.Property(x => x.Md5Hash).HasColumnName("md5_hash");
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
        });

        modelBuilder.Entity<StorageDeliveryChunk>(e =>
        {
            e.ToTable("storage_delivery_chunks");
            e.HasKey(x => new { x.ResponseId, x.Sequence });
            e.HasOne<StorageDelivery>().WithMany().HasForeignKey(x => x.ResponseId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ConditionTally>(e =>
        {
            e.ToTable("condition_tallies");
            e.HasKey(x => new { x.ExperimentId, x.Mode, x.Condition });
            e.Property(x => x.Mode).HasMaxLength(8);
            e.Property(x => x.Condition).HasMaxLength(100);
            e.HasOne<Experiment>().WithMany().HasForeignKey(x => x.ExperimentId);
        });

        modelBuilder.Entity<Recruitment>(e =>
        {
            e.ToTable("recruitments", t => t.HasCheckConstraint("ck_recruitments_source",
                $"source IN ({string.Join(", ", RecruitmentSources.All.Select(s => $"'{s}'"))})"));
            e.HasKey(x => new { x.ExperimentId, x.Source, x.ParticipantKey });
            e.Property(x => x.Source).HasMaxLength(16);
            e.Property(x => x.ParticipantId).HasMaxLength(128);
            e.Property(x => x.PanelStudyId).HasMaxLength(128);
            e.Property(x => x.PanelSessionId).HasMaxLength(128);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            // A person's panel ids: the participant list, the export and withdrawal read them by user.
            e.HasIndex(x => x.UserId);
            e.HasOne<Experiment>().WithMany().HasForeignKey(x => x.ExperimentId);
            e.HasOne<User>().WithMany().HasForeignKey(x => x.UserId);
        });

        modelBuilder.Entity<AdminAction>(e =>
        {
            e.ToTable("admin_actions");
            e.Property(x => x.At).HasDefaultValueSql("now()");
            e.Property(x => x.KeyFingerprint).HasMaxLength(64);
            e.Property(x => x.Action).HasMaxLength(32);
            e.Property(x => x.Details).HasColumnType("jsonb");
            e.HasIndex(x => x.At);
        });

        SeedData.Apply(modelBuilder);
    }
}
