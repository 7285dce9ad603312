#nullable enable
// Shared by the MSBuild task in TorchSharpFix.targets and by the tests: keep it dependency-free.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace AnomalySharp.Build
{
    /// <summary>
    /// Marks chosen symbol-version requirements of an ELF64 little-endian shared library as weak
    /// (VER_FLG_WEAK in its .gnu.version_r section), so that the dynamic loader no longer refuses to load
    /// it where the providing library lacks that version. Used on TorchSharp's libLibTorchSharp.so, which
    /// names GLIBCXX_3.4.32 for one symbol that no relocation uses.
    /// </summary>
    public static class ElfVersionPatcher
    {
        public const ushort VerFlagWeak = 0x2;
        const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>The version requirements (library, version name, flags) listed by the file.</summary>
        public static List<Tuple<string, string, ushort>> ReadRequirements(byte[] elf)
        {
            var result = new List<Tuple<string, string, ushort>>();
            Walk(elf, (file, name, flagsOffset) =>
                result.Add(Tuple.Create(file, name, BitConverter.ToUInt16(elf, flagsOffset))));
            return result;
        }

        /// <summary>Sets the weak flag on every requirement whose version name is in <paramref name="versions"/>.
        /// Returns how many entries changed (0 when already patched).</summary>
        public static int MarkWeak(byte[] elf, ICollection<string> versions)
        {
            int changed = 0;
            Walk(elf, (file, name, flagsOffset) =>
            {
                if (!versions.Contains(name)) return;
                ushort flags = BitConverter.ToUInt16(elf, flagsOffset);
                if ((flags & VerFlagWeak) != 0) return;
                flags |= VerFlagWeak;
                elf[flagsOffset] = (byte)(flags & 0xff);
                elf[flagsOffset + 1] = (byte)(flags >> 8);
                changed++;
            });
            return changed;
        }

        /// <summary>True when a library file contains the given version string (e.g. GLIBCXX_3.4.32).</summary>
        public static bool LibraryDefinesVersion(string path, string version)
        {
            byte[] data = File.ReadAllBytes(path);
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            for (int i = 0; i + needle.Length <= data.Length; i++)
            {
                if (data[i] != needle[0]) continue;
                int j = 1;
                while (j < needle.Length && data[i + j] == needle[j]) j++;
                if (j == needle.Length && (i == 0 || data[i - 1] == 0)) return true;
            }
            return false;
        }

        delegate void Visitor(string file, string name, int flagsOffset);

        static void Walk(byte[] elf, Visitor visit)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF is supported");
            long shoff = BitConverter.ToInt64(elf, 0x28);
            int shentsize = BitConverter.ToUInt16(elf, 0x3A);
            int shnum = BitConverter.ToUInt16(elf, 0x3C);
            for (int s = 0; s < shnum; s++)
            {
                int sh = checked((int)(shoff + (long)s * shentsize));
                if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
                int offset = checked((int)BitConverter.ToInt64(elf, sh + 0x18));
                int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
                int count = (int)BitConverter.ToUInt32(elf, sh + 0x2C); // sh_info: number of Verneed entries
                int strSh = checked((int)(shoff + (long)link * shentsize));
                int strOffset = checked((int)BitConverter.ToInt64(elf, strSh + 0x18));
                int vn = offset;
                for (int i = 0; i < count; i++)
                {
                    int cnt = BitConverter.ToUInt16(elf, vn + 2);
                    string file = ReadString(elf, strOffset + (int)BitConverter.ToUInt32(elf, vn + 4));
                    int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                    for (int a = 0; a < cnt; a++)
                    {
                        string name = ReadString(elf, strOffset + (int)BitConverter.ToUInt32(elf, aux + 8));
                        visit(file, name, aux + 4);
                        aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                    }
                    vn += (int)BitConverter.ToUInt32(elf, vn + 12);
                }
            }
        }

        static string ReadString(byte[] elf, int start)
        {
            int end = start;
            while (elf[end] != 0) end++;
            return Encoding.ASCII.GetString(elf, start, end - start);
        }
    }
#if !ANOMALYSHARP_TESTS
    /// <summary>MSBuild task: patches every libLibTorchSharp.so below a folder when the system needs it.</summary>
    public class PatchTorchSharpGlue : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public string Directory { get; set; } = "";

        public override bool Execute()
        {
            string? system = FindSystemLibStdCxx();
            if (system == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                    "TorchSharp glue: no system libstdc++.so.6 found; nothing patched.");
                return true;
            }
            if (ElfVersionPatcher.LibraryDefinesVersion(system, "GLIBCXX_3.4.32")) return true;
            if (!System.IO.Directory.Exists(Directory)) return true;
            foreach (string lib in System.IO.Directory.GetFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                byte[] elf = File.ReadAllBytes(lib);
                if (ElfVersionPatcher.MarkWeak(elf, new[] { "GLIBCXX_3.4.32" }) == 0) continue;
                string tmp = lib + ".patching";
                File.WriteAllBytes(tmp, elf);
                File.Delete(lib); // a new inode: never writes through a link into the NuGet cache
                File.Move(tmp, lib);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                    "TorchSharp glue: marked GLIBCXX_3.4.32 weak in " + lib + " (system libstdc++ " + system + " lacks it)");
            }
            return true;
        }

        static string? FindSystemLibStdCxx()
        {
            foreach (string dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                         "/usr/lib64", "/lib64", "/usr/lib" })
            {
                string candidate = Path.Combine(dir, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }
    }
#endif
}
