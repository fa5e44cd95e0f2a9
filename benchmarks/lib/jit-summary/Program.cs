using System.Globalization;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// What the runtime compiled in a dotnet-trace recording (its JIT events: --clrevents jit --clreventlevel verbose),
// per slice of time from a given moment: methods and compile time by tier, and the code they belong to.
//   usage: jit-summary FILE.nettrace SECONDS-FROM-TRACE-START-TO-LOAD [slice-seconds]
var file = args[0];
var loadAt = double.Parse(args[1], CultureInfo.InvariantCulture);
var slice = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 5;

var started = new Dictionary<(int Thread, long Method), double>();
var compiled = new List<(double At, string Tier, double Ms, string Area)>();
using (var source = new EventPipeEventSource(file))
{
    source.Clr.MethodJittingStarted += e => started[(e.ThreadID, e.MethodID)] = e.TimeStampRelativeMSec;
    source.Clr.MethodLoadVerbose += e =>
    {
        if (!started.Remove((e.ThreadID, e.MethodID), out var from))
        {
            return; // not compiled here: ReadyToRun code looked up, or compiled before the recording
        }

        compiled.Add((e.TimeStampRelativeMSec / 1000, Tier(e.OptimizationTier), e.TimeStampRelativeMSec - from, Area(e.MethodNamespace)));
    };
    source.Process();
}

Console.WriteLine($"   {compiled.Count} methods compiled in the recording; seconds from the load's start (negative: before it)");
Console.WriteLine("   slice       methods  compile-ms  by tier (methods, ms)");
foreach (var group in compiled.GroupBy(c => Math.Floor((c.At - loadAt) / slice)).OrderBy(g => g.Key))
{
    var tiers = string.Join(", ", group.GroupBy(c => c.Tier).OrderByDescending(t => t.Sum(c => c.Ms))
        .Select(t => FormattableString.Invariant($"{t.Key} {t.Count()} {t.Sum(c => c.Ms):0}")));
    Console.WriteLine(FormattableString.Invariant(
        $"   {group.Key * slice,4:0}-{(group.Key + 1) * slice,-4:0} s {group.Count(),8} {group.Sum(c => c.Ms),11:0}  {tiers}"));
}

Console.WriteLine("   after the load's start, the code compiled most (ms, methods):");
foreach (var area in compiled.Where(c => c.At >= loadAt).GroupBy(c => c.Area).OrderByDescending(a => a.Sum(c => c.Ms)).Take(12))
{
    Console.WriteLine(FormattableString.Invariant($"   {area.Sum(c => c.Ms),8:0} {area.Count(),6}  {area.Key}"));
}

static string Tier(OptimizationTier tier) => tier switch
{
    OptimizationTier.QuickJitted => "tier0",
    OptimizationTier.OptimizedTier1 => "tier1",
    OptimizationTier.OptimizedTier1OSR => "tier1-osr",
    OptimizationTier.QuickJittedInstrumented => "tier0-instrumented",
    OptimizationTier.OptimizedTier1Instrumented => "tier1-instrumented",
    OptimizationTier.Optimized => "optimized",
    _ => tier.ToString(),
};

// The first two parts of a type's namespace: "Npgsql.Internal", "Microsoft.AspNetCore", "MindJourney.Api".
static string Area(string type) => string.Join('.', type.Split('.').Take(2));
