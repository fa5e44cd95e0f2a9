namespace MindJourney.AppHost.Tests;

/// <summary>DATABASE_URL in the original platform's form becomes an Npgsql connection string.</summary>
public sealed class PostgresUrlTests
{
    [Theory]
    [InlineData("postgres://mj:s3cret@db.example:6543/study", "Host=db.example;Port=6543;Database=study;Username=mj;Password=s3cret")]
    [InlineData("postgresql://mj:p%40ss%3Aw0rd@localhost/mindjourney?sslmode=require",
        "Host=localhost;Port=5432;Database=mindjourney;Username=mj;Password=p@ss:w0rd;SSL Mode=require")]
    [InlineData("postgres://mj@127.0.0.1:5433/db", "Host=127.0.0.1;Port=5433;Database=db;Username=mj")]
    public void A_database_url_becomes_a_connection_string(string url, string expected) =>
        Assert.Equal(expected, PostgresUrl.ToConnectionString(url));

    [Theory]
    [InlineData("mysql://u:p@host/db")]
    [InlineData("not a url")]
    public void Anything_else_is_refused_with_a_clear_message(string url)
    {
        var error = Assert.Throws<Aspire.Hosting.DistributedApplicationException>(() => PostgresUrl.ToConnectionString(url));
        Assert.Contains("postgres://", error.Message, StringComparison.Ordinal);
    }
}
