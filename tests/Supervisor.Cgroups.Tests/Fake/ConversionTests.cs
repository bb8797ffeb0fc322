using CsCheck;

namespace Supervisor.Cgroups.Tests;

public sealed class ConversionTests
{
    [Theory]
    [InlineData(1, 10)]        // 1024/100 = 10.24, integer arithmetic as in systemd
    [InlineData(50, 512)]
    [InlineData(100, 1024)]    // default weight ↔ default shares
    [InlineData(200, 2048)]
    [InlineData(10000, 102400)]
    public void CPUWeight_to_shares_is_systemds_linear_mapping(int weight, long shares)
        => Assert.Equal(shares, Conversions.CpuWeightToShares(weight));

    [Fact]
    public void Shares_are_clamped_to_the_kernel_range()
    {
        Gen.Int[1, 10000].Sample(w =>
        {
            var s = Conversions.CpuWeightToShares(w);
            return s >= 2 && s <= 262144 && s == Math.Clamp(w * 1024L / 100, 2, 262144);
        });
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 100)]
    [InlineData(262144, 10000)]
    public void Shares_back_to_weight(long shares, int weight) => Assert.Equal(weight, Conversions.SharesToCpuWeight(shares));

    [Theory]
    [InlineData(1, 10)]
    [InlineData(100, 500)]
    [InlineData(150, 750)]
    [InlineData(10000, 1000)]
    public void IOWeight_to_blkio_weight(int weight, int blkio) => Assert.Equal(blkio, Conversions.IoWeightToBlkioWeight(weight));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(100, 100)]
    [InlineData(200, 109)]
    [InlineData(10000, 1000)]
    public void IOWeight_to_bfq_weight(int weight, int bfq) => Assert.Equal(bfq, Conversions.IoWeightToBfqWeight(weight));

    [Theory]
    [InlineData(50, 100, 50000L, 100000L)]
    [InlineData(150, 100, 150000L, 100000L)]
    [InlineData(20, 10, 2000L, 10000L)]
    [InlineData(12.5, 100, 12500L, 100000L)]
    public void CPUQuota_to_quota_and_period(double pct, int periodMs, long quota, long period)
        => Assert.Equal((quota, period), Conversions.CpuQuota(pct, TimeSpan.FromMilliseconds(periodMs)));

    [Fact]
    public void CPUQuota_infinity_has_no_quota()
        => Assert.Equal(((long?)null, 100000L), Conversions.CpuQuota(double.PositiveInfinity, null));
}

public sealed class CpuSetTests
{
    [Theory]
    [InlineData("0-3", "0,1,2,3")]
    [InlineData("0-1,3", "3,0,1")]
    [InlineData("5", "5-5")]
    [InlineData("", "\n")]
    public void Equal_however_spelled(string a, string b) => Assert.Equal(CpuSet.Parse(a), CpuSet.Parse(b));

    [Theory]
    [InlineData("0,1,2,3", "0-3")]
    [InlineData("7,0,2,1", "0-2,7")]
    [InlineData(" 4-5 \n", "4-5")]
    public void Prints_the_kernels_spelling(string input, string printed) => Assert.Equal(printed, CpuSet.Parse(input).ToString());

    [Theory]
    [InlineData("a")]
    [InlineData("3-1")]
    [InlineData("1,,2")]
    [InlineData("-1")]
    [InlineData("99999")]
    public void Rejects_garbage(string input) => Assert.False(CpuSet.TryParse(input, out _, out _));

    [Fact]
    public void Print_then_parse_round_trips()
    {
        Gen.Int[0, 200].HashSet[0, 40].Sample(members =>
        {
            var set = CpuSet.Of([.. members]);
            return CpuSet.Parse(set.ToString()).Equals(set) && set.Members.SequenceEqual(members.Order());
        });
    }
}
