namespace MindJourney.Api.Withdrawal;

public static class WithdrawalServiceExtensions
{
    /// <summary>A person's withdrawal (erasure that keeps the numbering whole).</summary>
    public static IHostApplicationBuilder AddWithdrawal(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<PersonWithdrawal>();
        return builder;
    }
}
