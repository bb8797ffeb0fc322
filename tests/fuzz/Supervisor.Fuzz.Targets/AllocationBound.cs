namespace Supervisor.Fuzz;

/// <summary>
/// The most managed memory a reader may allocate for one input:
/// <c>PerInputByte × input length + PerFile × files read + Constant</c>. <see cref="Measure"/>
/// counts with <see cref="GC.GetAllocatedBytesForCurrentThread"/>, so the reader must run on the
/// calling thread (the unit-file and message readers do) and other threads' allocations cannot
/// disturb the count; the SASL target, whose server runs on the thread pool, counts the process.
/// A reader whose memory grows faster than its input, or that sizes a buffer from a length
/// field before the bytes arrive, breaks the bound; the numbers and their reasons are in
/// tests/fuzz/README.md.
/// </summary>
public sealed record AllocationBound(string What, long PerInputByte, long PerFile, long Constant)
{
    /// <summary>What the last <see cref="Measure"/> on this thread counted (for the replay's report).</summary>
    [ThreadStatic]
    private static long t_lastMeasured;

    public static long LastMeasured => t_lastMeasured;

    public long For(long inputLength, int files = 0) => PerInputByte * inputLength + PerFile * files + Constant;

    public string Describe(long inputLength, int files = 0) =>
        PerFile == 0
            ? $"{PerInputByte} × {inputLength} + {Constant} = {For(inputLength)}"
            : $"{PerInputByte} × {inputLength} + {PerFile} × {files} files + {Constant} = {For(inputLength, files)}";

    /// <summary>
    /// Runs <paramref name="reader"/> and throws <see cref="FuzzFindingException"/> when it
    /// allocated more than the bound, also when it failed: a reader that allocates a gigabyte and
    /// then rejects the input has still allocated the gigabyte.
    /// </summary>
    public T Measure<T>(long inputLength, int files, Func<T> reader)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            return reader();
        }
        finally
        {
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            t_lastMeasured = used;
            if (used > For(inputLength, files))
                throw new FuzzFindingException($"{What} allocated {used} bytes for a {inputLength}-byte input, over its bound of {Describe(inputLength, files)}");
        }
    }
}
