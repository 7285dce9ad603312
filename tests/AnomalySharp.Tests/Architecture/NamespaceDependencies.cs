using System.Reflection;
using System.Reflection.Emit;

namespace AnomalySharp.Tests.Architecture;

/// <summary>
/// Which namespaces of an assembly use which, read from the compiled code: base types, interfaces, fields, method
/// signatures, and every type, method and field token in the method bodies' IL (compiler-generated closures and state
/// machines count for the type they were written in).
/// </summary>
internal static class NamespaceDependencies
{
    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>(from namespace, to namespace) → one example "Type uses Type", for every use between two namespaces of <paramref
    /// name="assembly"/>.</summary>
    public static Dictionary<(string From, string To), string> Of(Assembly assembly)
    {
        var edges = new Dictionary<(string, string), string>();
        string root = assembly.GetName().Name!;
        void Use(Type from, Type? to)
        {
            if (to == null) return;
            if (to.HasElementType) { Use(from, to.GetElementType()); return; }
            if (to.IsGenericType && !to.IsGenericTypeDefinition) foreach (var a in to.GetGenericArguments()) Use(from, a);
            if (to.IsGenericParameter || to.Assembly != assembly) return;
            string a1 = Namespace(Outer(from), root), b1 = Namespace(Outer(to), root);
            if (a1 != b1) edges.TryAdd((a1, b1), $"{Outer(from).Name} uses {Outer(to).Name}");
        }
        const BindingFlags all
            = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetTypes())
        {
            Use(type, type.BaseType);
            foreach (var i in type.GetInterfaces()) Use(type, i);
            foreach (var f in type.GetFields(all)) Use(type, f.FieldType);
            foreach (var p in type.GetProperties(all)) Use(type, p.PropertyType);
            foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (m is MethodInfo mi) Use(type, mi.ReturnType);
                foreach (var p in m.GetParameters()) Use(type, p.ParameterType);
                foreach (var t in BodyTypes(m)) Use(type, t);
            }
        }
        return edges;
    }

    /// <summary>The outermost declaring type (closures and iterators belong to the type whose code made them).</summary>
    static Type Outer(Type t) { while (t.DeclaringType != null) t = t.DeclaringType; return t; }

    /// <summary>"Engine" for AnomalySharp.Engine; "" for the root namespace.</summary>
    static string Namespace(Type t, string root)
    {
        string ns = t.Namespace ?? "";
        return ns == root ? "" : ns.StartsWith(root + ".", StringComparison.Ordinal) ? ns[(root.Length + 1)..].Split('.')[0] : ns;
    }

    /// <summary>The types named by the tokens in <paramref name="method"/>'s IL.</summary>
    static IEnumerable<Type> BodyTypes(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is InvalidOperationException
            or NotSupportedException)
        { il = null; }
        if (il == null) yield break;
        var module = method.Module;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                MemberInfo? member = null;
                try { member = module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException
                    or FileNotFoundException)
                { }
                if (member is Type t) yield return t;
                else if (member?.DeclaringType is { } declaring) yield return declaring;
                if (member is FieldInfo f) yield return f.FieldType;
                if (member is MethodInfo m) yield return m.ReturnType;
            }
            i += size;
        }
    }
}
