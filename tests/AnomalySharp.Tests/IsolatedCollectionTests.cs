using System.Reflection;

namespace AnomalySharp.Tests;

/// <summary>build/test.sh splits the suite by trait: the isolated collection's classes and only they carry it.</summary>
public class IsolatedCollectionTests
{
    [Fact]
    public void EveryIsolatedClassAndOnlyItCarriesTheTraitThatRunsItInItsOwnProcess()
    {
        var classes = typeof(IsolatedCollectionTests).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>().Any())).ToList();
        var isolated = classes.Where(t => t.GetCustomAttributesData().Any(a => a.AttributeType == typeof(CollectionAttribute)
            && (string?)a.ConstructorArguments[0].Value == IsolatedCollection.Name)).ToList();
        var traited = classes.Where(t => t.GetCustomAttributesData().Any(a => a.AttributeType == typeof(TraitAttribute)
            && (string?)a.ConstructorArguments[0].Value == IsolatedCollection.Trait
            && (string?)a.ConstructorArguments[1].Value == IsolatedCollection.Value)).ToList();
        Assert.True(isolated.Count >= 10, $"{isolated.Count} isolated classes found");
        Assert.Equal(isolated.Select(t => t.FullName).Order(), traited.Select(t => t.FullName).Order());
    }
}
