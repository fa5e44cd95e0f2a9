using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MindJourney.AppHost.LocalPostgres;

namespace MindJourney.AppHost;

/// <summary>Where PostgreSQL comes from, chosen by <c>MindJourney:Postgres</c> = auto | container | local | external.
/// A published manifest knows only two: Aspire's PostgreSQL container with a data volume, or <c>external</c>, a
/// connection-string parameter for a managed server; the machine's binaries are no part of a deployment.</summary>
internal static class DatabaseResources
{
    public static IResourceBuilder<IResourceWithConnectionString> AddMindJourneyDatabase(this IDistributedApplicationBuilder builder)
    {
        var mode = (builder.Configuration["MindJourney:Postgres"] ?? "auto").Trim().ToLowerInvariant();
        // Checked first, publishing included: a misspelt mode must not quietly become another.
        if (mode is not ("auto" or "container" or "local" or "external"))
        {
            throw new DistributedApplicationException($"MindJourney:Postgres is '{mode}'; use auto, container, local or external.");
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            // The deployment asks for the connection string when it is applied, not the machine that publishes.
            return mode == "external" ? builder.AddConnectionString(ResourceNames.Database) : builder.AddPostgresContainer();
        }

        if (mode == "auto")
        {
            mode = ContainerRuntimeAnswers() ? "container" : "local";
        }

        return mode switch
        {
            "container" => builder.AddPostgresContainer(),
            "local" => builder.AddLocalPostgres("postgres", ResourceNames.Database),
            _ => builder.AddExternalDatabase(),
        };
    }

    /// <summary>Run mode keeps Aspire's volume name (derived from the AppHost's folder, so existing data stays); a
    /// manifest names it plainly, the same from any machine that publishes it.</summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddPostgresContainer(this IDistributedApplicationBuilder builder) =>
        builder.AddPostgres("postgres")
            .WithDataVolume(builder.ExecutionContext.IsPublishMode ? "mindjourney-postgres-data" : null)
            .AddDatabase(ResourceNames.Database);

    /// <summary>A connection string given by the user: ConnectionStrings:mindjourney, or DATABASE_URL in the
    /// postgres://user:pass@host:port/db form the original platform used.</summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddExternalDatabase(this IDistributedApplicationBuilder builder)
    {
        var key = $"ConnectionStrings:{ResourceNames.Database}";
        if (string.IsNullOrWhiteSpace(builder.Configuration[key]) && builder.Configuration["DATABASE_URL"] is { Length: > 0 } url)
        {
            builder.Configuration[key] = PostgresUrl.ToConnectionString(url);
        }

        if (string.IsNullOrWhiteSpace(builder.Configuration[key]))
        {
            throw new DistributedApplicationException(
                "MindJourney:Postgres is 'external' but neither ConnectionStrings:mindjourney nor DATABASE_URL is set.");
        }

        return builder.AddConnectionString(ResourceNames.Database);
    }

    /// <summary>A docker client without a daemon makes Aspire wait forever on a container, so ask the runtime
    /// first, briefly.</summary>
    private static bool ContainerRuntimeAnswers()
    {
        foreach (var runtime in new[] { "docker", "podman" })
        {
            try
            {
                using var probe = Process.Start(new ProcessStartInfo(runtime, "info")
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                });
                if (probe is null)
                {
                    continue;
                }

                if (probe.WaitForExit(TimeSpan.FromSeconds(5)) && probe.ExitCode == 0)
                {
                    return true;
                }

                if (!probe.HasExited)
                {
                    probe.Kill();
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed.
            }
        }

        return false;
    }
}

/// <summary>Reads <c>postgres://user:pass@host:port/db?sslmode=require</c> into Npgsql's keyword form.</summary>
internal static class PostgresUrl
{
    public static string ToConnectionString(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new DistributedApplicationException("DATABASE_URL must look like postgres://user:password@host:5432/database.");
        }

        var userInfo = uri.UserInfo.Split(':', 2);
        var parts = new List<string>
        {
            $"Host={uri.Host}",
            $"Port={(uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port)}",
            $"Database={Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'))}",
        };
        if (userInfo[0].Length > 0)
        {
            parts.Add($"Username={Uri.UnescapeDataString(userInfo[0])}");
        }

        if (userInfo.Length > 1)
        {
            parts.Add($"Password={Uri.UnescapeDataString(userInfo[1])}");
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            if (kv[0].Equals("sslmode", StringComparison.OrdinalIgnoreCase) && kv.Length == 2)
            {
                parts.Add($"SSL Mode={Uri.UnescapeDataString(kv[1])}");
            }
        }

        return string.Join(';', parts);
    }
}
