using System.Reflection;

namespace Supervisor.Linux.Tests;

public class ErrnoTests
{
    [Fact]
    public void Every_constant_has_its_own_name_in_the_table()
    {
        var constants = typeof(Errno).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToList();
        Assert.NotEmpty(constants);
        foreach (var c in constants)
        {
            int number = (int)c.GetRawConstantValue()!;
            Assert.Equal(c.Name, Errno.Name(number));
            Assert.True(Errno.TryParse(c.Name, out int parsed));
            Assert.Equal(number, parsed);
        }
    }

    [Fact]
    public void Names_and_numbers_are_each_listed_once()
    {
        var numbers = Errno.Names.Select(n => Errno.TryParse(n, out int v) ? v : -1).ToList();
        Assert.Equal(numbers.Count, Errno.Names.Distinct().Count());
        Assert.Equal(numbers.Count, numbers.Distinct().Count());
        Assert.DoesNotContain(-1, numbers);
    }

    [Theory]
    [InlineData("EPERM", 1)]
    [InlineData("eacces", 13)]
    [InlineData(" ENOKEY ", 126)]
    public void Parses_names_in_any_case(string name, int number)
    {
        Assert.True(Errno.TryParse(name, out int parsed));
        Assert.Equal(number, parsed);
    }

    [Fact]
    public void An_unknown_name_or_number_is_said_as_such()
    {
        Assert.False(Errno.TryParse("EPREM", out _));
        Assert.Equal("errno 4095", Errno.Name(4095));
    }
}
