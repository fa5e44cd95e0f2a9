using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace MindJourney.LoadTests.Cli;

/// <summary>
/// <c>partition-proxy</c>: a TCP proxy that can partition the network without closing anything, for the fault suite
/// (benchmarks/faults.sh). It forwards <c>--listen</c> to <c>--to</c>; SIGUSR1 starts a partition, SIGUSR2 heals it.
/// During a partition no byte moves in either direction and a new connection is accepted but not forwarded, so each
/// side sees an open, silent connection, as behind a dead switch (no RST, no FIN). On healing, what was held moves on,
/// as TCP's retransmissions would deliver it. Loopback only.
/// </summary>
internal static class PartitionProxyCommand
{
    private const int Sigusr1 = 10;
    private const int Sigusr2 = 12;

    public static Command Create(CliEnvironment env)
    {
        var listen = new Option<int>("--listen") { Description = "Loopback port to listen on.", HelpName = "port", Required = true };
        var to = new Option<int>("--to") { Description = "Loopback port to forward to.", HelpName = "port", Required = true };
        var command = new Command("partition-proxy",
            "Forward a loopback port to another; SIGUSR1 partitions (connections stay open, nothing moves), SIGUSR2 heals.")
        {
            listen, to,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var gate = new Gate();
            using var partition = PosixSignalRegistration.Create((PosixSignal)Sigusr1, c =>
            {
                c.Cancel = true;
                gate.Close();
                env.Out.WriteLine($"{DateTimeOffset.UtcNow:O} partitioned");
            });
            using var heal = PosixSignalRegistration.Create((PosixSignal)Sigusr2, c =>
            {
                c.Cancel = true;
                gate.Open();
                env.Out.WriteLine($"{DateTimeOffset.UtcNow:O} healed");
            });
            var listener = new TcpListener(IPAddress.Loopback, parse.GetValue(listen));
            listener.Start();
            var upstream = new IPEndPoint(IPAddress.Loopback, parse.GetValue(to));
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var client = await listener.AcceptSocketAsync(cancellationToken).ConfigureAwait(false);
                    _ = ForwardAsync(client, upstream, gate, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                // stopped
            }
            finally
            {
                listener.Stop();
            }

            return CliApp.ExitPassed;
        });
        return command;
    }

    private static async Task ForwardAsync(Socket client, IPEndPoint upstream, Gate gate, CancellationToken cancellationToken)
    {
        using (client)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            using var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(upstream, cancellationToken).ConfigureAwait(false);
                await Task.WhenAny(PumpAsync(client, server, gate, cancellationToken), PumpAsync(server, client, gate, cancellationToken))
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // either side went away
            }
        }
    }

    /// <summary>Copies one direction; each chunk waits for the gate twice (before it is read and before it is written),
    /// so a partition holds what is in flight.</summary>
    private static async Task PumpAsync(Socket from, Socket to, Gate gate, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                var n = await from.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                await to.SendAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // either side went away
        }
    }

    /// <summary>Open: traffic moves. Closed: every pump waits.</summary>
    private sealed class Gate
    {
        private volatile TaskCompletionSource _open = Opened();

        public Task WaitAsync(CancellationToken cancellationToken) => _open.Task.WaitAsync(cancellationToken);

        public void Close()
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public void Open() => _open.TrySetResult();

        private static TaskCompletionSource Opened()
        {
            var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            source.SetResult();
            return source;
        }
    }
}
