using MindJourney.Api.Storage;

namespace MindJourney.Api.Tests;

/// <summary>How the texts' loop gives way to answers (<see cref="DeliverySignal"/>): it rests only while answers
/// queue for the database, for as long as keeps its rounds to their share of the time, and never more than a second at
/// once; when the answers stop it writes at full speed again.</summary>
public sealed class TextDeliveryPaceTests
{
    private static readonly StorageOptions Settings = new()
    {
        TextDeliveryShareWhileAnswersQueue = 0.1,
        TextsGiveWayAtAnswersPerStatement = 8,
    };

    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(20);

    [Fact]
    public void Texts_run_at_full_speed_until_answers_have_been_recorded()
    {
        var signal = new DeliverySignal(new ManualTime());
        Assert.False(signal.AnswersQueue(Settings));
        Assert.Equal(TimeSpan.Zero, signal.RestAfterTextRound(Round, Settings));
    }

    [Fact]
    public void Answers_that_arrive_one_per_statement_do_not_slow_the_texts()
    {
        var signal = new DeliverySignal(new ManualTime());
        StatementsRan(signal, 1);

        Assert.Equal(TimeSpan.Zero, signal.RestAfterTextRound(Round, Settings));
    }

    [Fact]
    public void While_answers_queue_the_texts_take_their_share_and_rest_at_most_a_second()
    {
        var time = new ManualTime();
        var signal = new DeliverySignal(time);
        StatementsRan(signal, 15);

        Assert.True(signal.AnswersQueue(Settings));
        // A 20 ms round at a 10 % share: 180 ms of rest, so the rounds fill a tenth of the time.
        Assert.Equal(TimeSpan.FromMilliseconds(180), signal.RestAfterTextRound(Round, Settings));
        // Storage slow to answer: the rest is capped, so a round still runs every second or so.
        Assert.Equal(TimeSpan.FromSeconds(1), signal.RestAfterTextRound(TimeSpan.FromSeconds(5), Settings));
        // A share of 1 never rests.
        Assert.Equal(TimeSpan.Zero, signal.RestAfterTextRound(Round, new StorageOptions
        {
            TextDeliveryShareWhileAnswersQueue = 1,
            TextsGiveWayAtAnswersPerStatement = 8,
        }));
    }

    [Fact]
    public void When_the_answers_stop_or_thin_out_the_texts_run_at_full_speed_again()
    {
        var time = new ManualTime();
        var signal = new DeliverySignal(time);
        StatementsRan(signal, 15);

        time.Advance(TimeSpan.FromMilliseconds(1500)); // no statement for a second and a half: the queue is gone
        Assert.False(signal.AnswersQueue(Settings));
        Assert.Equal(TimeSpan.Zero, signal.RestAfterTextRound(Round, Settings));

        StatementsRan(signal, 15);

        Assert.True(signal.AnswersQueue(Settings));
        StatementsRan(signal, 2); // the rate falls: statements carry few answers again

        Assert.False(signal.AnswersQueue(Settings));
    }

    /// <summary>Two hundred answer statements of <paramref name="answers"/> answers each: enough for the mean to
    /// settle.</summary>
    private static void StatementsRan(DeliverySignal signal, int answers)
    {
        for (var i = 0; i < 200; i++)
        {
            signal.AnswerStatementRan(answers);
        }
    }

    /// <summary>A clock that moves only when told.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
