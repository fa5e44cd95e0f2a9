using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace MindJourney.Api.Data;

/// <summary>Lets `dotnet ef migrations add` build the model without a database or the Aspire host.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<MindJourneyDbContext>
{
    public MindJourneyDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<MindJourneyDbContext>()
            .UseNpgsql("Host=localhost;Database=mindjourney_design")
            .UseSnakeCaseNamingConvention()
            .Options);
}
