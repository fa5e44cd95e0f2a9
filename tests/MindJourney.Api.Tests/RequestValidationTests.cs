using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Tests;

/// <summary>Validation is set once on a route group: a route added to the group later, with nothing in its handler,
/// is checked against the rules its request record and parameters declare, and a request that breaks one is refused
/// as the API refuses bad input (400 problem+json naming the rule) without reaching the handler.</summary>
public sealed class RequestValidationTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private int _handled;

    public sealed record Note([property: RequiredId] Guid? OwnerId, [property: StoredText] string? Text);

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        var group = _app.MapGroup("/notes").WithRequestValidation();
        group.MapPost("/", (Note note, [Range(1, 10)] int? copies) =>
        {
            Interlocked.Increment(ref _handled);
            return TypedResults.Ok();
        });
        await _app.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Theory]
    [InlineData("""{"ownerId":"00000000-0000-0000-0000-000000000000"}""", "", "ownerId is required.")]
    [InlineData("""{"ownerId":"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001","text":"a\u0000b"}""", "",
        "text must not contain the NUL character (U+0000).")]
    [InlineData("""{"ownerId":"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"}""", "?copies=11", "copies")]
    public async Task A_request_that_breaks_a_declared_rule_is_refused_before_the_handler(string body, string query, string detail)
    {
        using var response = await _client.PostAsync("/notes/" + query, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Invalid request", problem.GetProperty("title").GetString());
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, _handled);
    }

    [Fact]
    public async Task A_request_that_keeps_the_rules_reaches_the_handler()
    {
        using var response = await _client.PostAsync("/notes/?copies=2",
            new StringContent("""{"ownerId":"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001","text":"fine"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, _handled);
    }
}
