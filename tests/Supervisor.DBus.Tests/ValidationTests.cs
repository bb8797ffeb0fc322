namespace Supervisor.DBus.Tests;

public class ValidationTests
{
    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("a{sv}")]
    [InlineData("a(ssssssouso)")]
    [InlineData("aaai")]
    [InlineData("(i(i(i)))")]
    [InlineData("yvdh")]
    public void Valid_signatures_are_accepted(string sig) => Assert.True(Signature.IsValid(sig));

    [Theory]
    [InlineData("a", "ends in the middle")]
    [InlineData("()", "empty struct")]
    [InlineData("{sv}", "dict entry outside an array")]
    [InlineData("a{vs}", "not a basic type")]
    [InlineData("a{s}", "no value type")]
    [InlineData("a{sss}", "exactly two types")]
    [InlineData("(i", "not closed")]
    [InlineData("i)", "unknown or reserved")]
    [InlineData("r", "unknown or reserved")]
    [InlineData("m", "unknown or reserved")]
    [InlineData("e", "unknown or reserved")]
    public void Invalid_signatures_are_rejected_with_a_reason(string sig, string reason)
    {
        Assert.Contains(reason, Signature.Validate(sig, requireSingleType: false));
        Assert.Throws<ArgumentException>(() => new Signature(sig));
    }

    [Fact]
    public void Signature_limits_are_enforced_at_the_boundary()
    {
        Assert.True(Signature.IsValid(new string('a', 32) + "y"));
        Assert.Contains("32 nested arrays", Signature.Validate(new string('a', 33) + "y", false));
        Assert.True(Signature.IsValid(new string('(', 32) + "y" + new string(')', 32)));
        Assert.Contains("32 nested structs", Signature.Validate(new string('(', 33) + "y" + new string(')', 33), false));
        Assert.True(Signature.IsValid(new string('y', 255)));
        Assert.Contains("255", Signature.Validate(new string('y', 256), false));
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/a/b_c/D9", true)]
    [InlineData("", false)]
    [InlineData("a", false)]
    [InlineData("/a/", false)]
    [InlineData("//a", false)]
    [InlineData("/a-b", false)]
    [InlineData("/a.b", false)]
    public void Object_paths(string path, bool valid) => Assert.Equal(valid, ObjectPath.IsValid(path));

    [Theory]
    [InlineData("org.freedesktop.DBus", true)]
    [InlineData("io.supervisor.Manager1", true)]
    [InlineData("_a._b", true)]
    [InlineData("single", false)]
    [InlineData("a..b", false)]
    [InlineData("a.1b", false)]
    [InlineData(".a.b", false)]
    [InlineData("a.b-c", false)]
    public void Interface_names(string name, bool valid) => Assert.Equal(valid, Names.IsValidInterfaceName(name));

    [Theory]
    [InlineData(":1.42", true)]
    [InlineData("io.supervisor.Supervisor1", true)]
    [InlineData("a-b.c-d", true)]
    [InlineData("a.1b", false)]
    [InlineData(":1..2", false)]
    [InlineData("nodot", false)]
    public void Bus_names(string name, bool valid) => Assert.Equal(valid, Names.IsValidBusName(name));

    [Theory]
    [InlineData("Hello", true)]
    [InlineData("_x1", true)]
    [InlineData("1x", false)]
    [InlineData("a.b", false)]
    [InlineData("", false)]
    public void Member_names(string name, bool valid) => Assert.Equal(valid, Names.IsValidMemberName(name));

    [Fact]
    public void Names_longer_than_255_are_invalid()
    {
        string name = "a." + new string('b', 253);
        Assert.True(Names.IsValidInterfaceName(name));
        Assert.False(Names.IsValidInterfaceName(name + "c"));
        Assert.False(Names.IsValidMemberName(new string('m', 256)));
    }
}
