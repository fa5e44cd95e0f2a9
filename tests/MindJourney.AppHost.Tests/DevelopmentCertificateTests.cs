using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace MindJourney.AppHost.Tests;

/// <summary>The dashboard opens with a red "No trusted development certificate" notice when any resource would be
/// served with the development certificate; everything here is plain HTTP, so none is.</summary>
public sealed class DevelopmentCertificateTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task No_resource_asks_for_a_development_certificate(int replicas)
    {
        await using var builder = await LocalAppHost.DescribeAsync(
            ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=mindjourney", $"MindJourney:ApiReplicas={replicas}"]);

        // Aspire's own rule (DcpHost): an https endpoint, or a certificate configuration not switched off.
#pragma warning disable ASPIRECERTIFICATES001
        var usingTls = builder.Resources.Where(r =>
                r.Annotations.OfType<EndpointAnnotation>().Any(e => e.UriScheme == "https")
                || (r.Annotations.OfType<HttpsCertificateConfigurationCallbackAnnotation>().Any()
                    && !(r.Annotations.OfType<HttpsCertificateAnnotation>().LastOrDefault()
                        is { UseDeveloperCertificate: false or null, Certificate: null })))
            .Select(r => r.Name);
#pragma warning restore ASPIRECERTIFICATES001

        Assert.Empty(usingTls);
        Assert.Contains(builder.Resources, r => r.Name == "api");
    }
}
