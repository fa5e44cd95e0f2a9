namespace MindJourney.AppHost;

internal static class PlainHttp
{
    /// <summary>
    /// Every endpoint here is plain HTTP on loopback by design, yet Aspire gives each project a development-certificate
    /// configuration, and one such resource is enough for the dashboard to open with a red "No trusted development
    /// certificate" notice on a machine without a trusted one (every Linux newcomer). Projects without an https
    /// endpoint drop that unused configuration; one given an https endpoint keeps it.
    /// </summary>
    public static IDistributedApplicationBuilder WithoutUnusedHttpsCertificates(this IDistributedApplicationBuilder builder)
    {
        foreach (var project in builder.Resources.OfType<ProjectResource>()
                     .Where(r => !r.Annotations.OfType<EndpointAnnotation>().Any(e => e.UriScheme == "https"))
                     .ToList())
        {
            // Evaluation API in Aspire 13; the only way to drop the default without giving a certificate.
#pragma warning disable ASPIRECERTIFICATES001
            builder.CreateResourceBuilder(project).WithoutHttpsCertificate();
#pragma warning restore ASPIRECERTIFICATES001
        }

        return builder;
    }
}
