using System.Reflection;
using LatentBalance.Filters;
using McMaster.NETCore.Plugins;

namespace LatentBalance.Daemon.Filters;

/// <summary>
/// Loads the <see cref="IFilter"/> implementations of one plug-in assembly in its own load context
/// (McMaster.NETCore.Plugins), sharing the filter abstractions with the host so the types match.
/// </summary>
public static class PluginFilterLoader
{
    /// <summary>Every public non-abstract IFilter with a parameterless constructor in <paramref name="assemblyPath"/>.</summary>
    /// <exception cref="InvalidDataException">the assembly cannot be loaded or holds no usable filter.</exception>
    public static IReadOnlyList<IFilter> Load(string assemblyPath)
    {
        PluginLoader loader;
        Assembly assembly;
        try
        {
            loader = PluginLoader.CreateFromAssemblyFile(assemblyPath, sharedTypes: [typeof(IFilter)], config => config.PreferSharedTypes = true);
            assembly = loader.LoadDefaultAssembly();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"cannot load plug-in '{assemblyPath}': {e.GetType().Name}: {e.Message}", e);
        }

        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e)
        {
            var why = e.LoaderExceptions.FirstOrDefault(x => x != null)?.Message ?? e.Message;
            throw new InvalidDataException($"plug-in '{assemblyPath}' has types that do not load: {why}", e);
        }
        var filters = new List<IFilter>();
        foreach (var t in types.Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true } && typeof(IFilter).IsAssignableFrom(t)))
        {
            if (t.GetConstructor(Type.EmptyTypes) is null)
                throw new InvalidDataException($"plug-in '{assemblyPath}': filter type {t.FullName} has no public parameterless constructor");
            try { filters.Add((IFilter)Activator.CreateInstance(t)!); }
            catch (TargetInvocationException e)
            {
                throw new InvalidDataException($"plug-in '{assemblyPath}': creating {t.FullName} failed: {e.InnerException?.Message ?? e.Message}", e);
            }
        }
        if (filters.Count == 0)
        {
            bool foreignContract = types.Any(t => t.GetInterfaces().Any(i => i.FullName == typeof(IFilter).FullName));
            throw new InvalidDataException(foreignContract
                ? $"plug-in '{assemblyPath}' implements a different copy of {typeof(IFilter).FullName} (ship it without LatentBalance.Filters.Abstractions.dll)"
                : $"plug-in '{assemblyPath}' contains no public {typeof(IFilter).FullName} implementation");
        }
        return filters;
    }
}
