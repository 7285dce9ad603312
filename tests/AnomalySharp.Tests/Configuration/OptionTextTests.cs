namespace AnomalySharp.Tests.Configuration;

/// <summary>Library messages name parameters; the command line shows the same options as flags.</summary>
public class OptionTextTests
{
    [Fact]
    public void AMarkedParameterReadsAsItselfInTheLibraryAndAsAFlagOnTheCommandLine()
    {
        var e = new AnomalySharpException($"{OptionText.Name("skipBadImages")} and {OptionText.Name("overwrite")}, with "
            + $"{OptionText.Name("int8")} and {OptionText.Name("validationFraction")}");
        Assert.Equal("skipBadImages and overwrite, with int8 and validationFraction", e.Message);
        Assert.Equal("--skip-bad-images and --overwrite, with --int8 and --validation-fraction", e.CommandLineMessage);
        // Plain text, paths and existing dashes are left alone.
        var plain = new AnomalySharpException("/data/my--folder: not found");
        Assert.Equal(plain.Message, plain.CommandLineMessage);
    }
}
