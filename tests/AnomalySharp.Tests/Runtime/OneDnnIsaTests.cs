using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using AnomalySharp.Runtime;

namespace AnomalySharp.Tests.Runtime;

public partial class OneDnnIsaTests
{
    [Fact]
    public void OneDnnIsHeldToAvx2OnlyOnAvx512CpusAndNeverAgainstTheUsersSetting()
    {
        Assert.True(OneDnnIsa.Useful(null, null, avx512: true));
        Assert.False(OneDnnIsa.Useful(null, null, avx512: false)); // AVX2 machines run oneDNN as it is
        Assert.False(OneDnnIsa.Useful("AVX512_CORE", null, avx512: true)); // the user's own choice stays
        Assert.False(OneDnnIsa.Useful(null, "native", avx512: true));
    }

    [Fact]
    public void TheLibraryHasSetItBeforeItsFirstConvolution()
    {
        if (!OperatingSystem.IsLinux()) return;
        _ = AnomalySharp.Models.ModelRegistry.BuiltInNames; // the library's module initializer has run
        string? isa = Marshal.PtrToStringUTF8(GetEnv("ONEDNN_MAX_CPU_ISA"));
        bool userSet = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") != null
            || Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA") != null
            || Environment.GetEnvironmentVariable(OneDnnIsa.Variable) == "native";
        if (userSet) return; // the run was started with its own setting, which must stay
        Assert.Equal(Avx512F.IsSupported ? "AVX2" : null, isa);
    }

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);
}
