namespace Supervisor.Cgroups.Tests;

public sealed class CgroupPathTests
{
    [Theory]
    [InlineData("web", null, "web.service")]
    [InlineData("web", "", "web.service")]
    [InlineData("web", "-.slice", "web.service")]
    [InlineData("web", "a", "a.slice/web.service")]
    [InlineData("web", "a-b", "a.slice/a-b.slice/web.service")]
    [InlineData("web", "a-b.slice", "a.slice/a-b.slice/web.service")]
    [InlineData("web", "a-b-c", "a.slice/a-b.slice/a-b-c.slice/web.service")]
    [InlineData("job.scope", "a", "a.slice/job.scope")]
    public void Systemd_naming(string unit, string? slice, string expected)
        => Assert.Equal(expected, CgroupPath.ForUnit(unit, slice).Relative);

    [Fact]
    public void Ancestors_are_the_slices_outermost_first()
    {
        var p = CgroupPath.ForUnit("web", "a-b");
        Assert.Equal(["a.slice", "a.slice/a-b.slice"], p.Ancestors.Select(a => a.Relative));
        Assert.Equal(CgroupPath.ForSlice("a-b"), p.Parent);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public void Bad_unit_names_are_rejected(string unit) => Assert.Throws<ArgumentException>(() => CgroupPath.ForUnit(unit));

    [Theory]
    [InlineData("-a")]
    [InlineData("a-")]
    [InlineData("a--b")]
    [InlineData("a/b")]
    public void Bad_slice_names_are_rejected(string slice) => Assert.Throws<ArgumentException>(() => CgroupPath.ForSlice(slice));
}
