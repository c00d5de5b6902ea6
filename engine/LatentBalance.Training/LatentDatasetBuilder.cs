using LatentBalance.Engine.Balancer;
using System.Diagnostics;
using System.Text.Json;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using LatentBalance.Training.Distortions;
using LatentBalance.Engine.Vae;
using NetVips;
using static TorchSharp.torch;

namespace LatentBalance.Training;

public sealed record DatasetProgress(string Split, int Done, int Total, TimeSpan Elapsed);

/// <summary>
/// Builds the training cache: whole-frame 224 tiles of the photos (random crop, scale and flip,
/// fitted and padded as at inference), each distorted by a seeded recipe, both tiles encoded by
/// the VAE. Latent pairs are written in safetensors shards of a fixed size; a shard that exists is
/// skipped, so an interrupted build resumes where it stopped. Photos and LUTs are split into
/// train and validation by <see cref="DataSplit"/>; validation uses only validation LUTs. The cache is the recipe's
/// first (<see cref="TrainingRecipe.Caches"/>).
/// </summary>
public sealed class LatentDatasetBuilder(IVae vae, TrainingRecipe options)
{
    public const string Train = "train";
    public const string Validation = "val";

    public void Build(string split, IProgress<DatasetProgress>? progress = null, CancellationToken cancel = default)
    {
        var (trainPhotos, valPhotos) = DataSplit.Photos(options.PhotosDir);
        var photos = split == Train ? trainPhotos : valPhotos;
        if (options.MaxPhotos > 0) photos = photos.Take(options.MaxPhotos).ToList();
        var luts = new List<Lut3D>();
        if (options.LutsDir != null && Directory.Exists(options.LutsDir))
        {
            var (trainLuts, valLuts) = DataSplit.Luts(options.LutsDir);
            foreach (var p in split == Train ? trainLuts : valLuts) luts.Add(CubeFile.Read(p));
        }
        var generator = new DistortionGenerator(new DistortionOptions { Luts = luts });
        var dir = Path.Combine(options.Caches[0], split);
        Directory.CreateDirectory(dir);
        WriteManifest(dir, split, photos.Count, luts.Count);

        int total = photos.Count * options.VariantsPerPhoto;
        int shards = (total + options.ShardSize - 1) / options.ShardSize;
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < shards && !cancel.IsCancellationRequested; s++)
        {
            var shardPath = Path.Combine(dir, $"shard-{s:D5}.safetensors");
            int begin = s * options.ShardSize, end = Math.Min(total, begin + options.ShardSize);
            if (File.Exists(shardPath)) { progress?.Report(new DatasetProgress(split, end, total, sw.Elapsed)); continue; }
            var distorted = new List<Tensor>();
            var clean = new List<Tensor>();
            var cleanLogVar = new List<Tensor>();
            var recipes = new List<string>();
            for (int b = begin; b < end; b += options.EncodeBatch)
            {
                EncodeBatch(b, Math.Min(end, b + options.EncodeBatch));
                progress?.Report(new DatasetProgress(split, Math.Min(end, b + options.EncodeBatch), total, sw.Elapsed));
            }

            // pairs [b, e): variants of one photo share its crop, so the clean tile is encoded once per photo
            void EncodeBatch(int b, int e)
            {
                using var scope = NewDisposeScope();
                var cleanLatents = new Dictionary<int, (Tensor Mean, Tensor? LogVar)>();
                var cleanTiles = new Dictionary<int, Tensor>();
                for (int i = b; i < e; i++)
                {
                    int photo = i / options.VariantsPerPhoto;
                    if (!cleanTiles.ContainsKey(photo)) cleanTiles[photo] = MakeTile(photos[photo], new Random(StableSeed(options.Seed, photo, -1)));
                }
                using var _ = no_grad();
                var order = cleanTiles.Keys.Order().ToList();
                var (cm, clv) = vae.EncodeDistribution(stack(order.Select(p => cleanTiles[p])));
                for (int k = 0; k < order.Count; k++) cleanLatents[order[k]] = (cm[k], clv?[k]);
                var distTiles = new List<Tensor>();
                for (int i = b; i < e; i++)
                {
                    int photo = i / options.VariantsPerPhoto, variant = i % options.VariantsPerPhoto;
                    int seed = StableSeed(options.Seed, photo, variant);
                    var tile = cleanTiles[photo];
                    if (new Random(seed).NextDouble() < options.DatasetIdentityFraction)
                    {
                        distTiles.Add(tile);
                        recipes.Add($"{Path.GetFileName(photos[photo])}: identity");
                    }
                    else
                    {
                        var (d, recipe) = generator.Distort(tile, seed);
                        distTiles.Add(d);
                        recipes.Add($"{Path.GetFileName(photos[photo])}: {recipe}");
                    }
                }
                var dl = vae.Encode(stack(distTiles)).cpu();
                var idx = Enumerable.Range(b, e - b).Select(i => i / options.VariantsPerPhoto).ToList();
                clean.Add(stack(idx.Select(p => cleanLatents[p].Mean)).cpu().MoveToOuterDisposeScope());
                if (clv is not null) cleanLogVar.Add(stack(idx.Select(p => cleanLatents[p].LogVar!)).cpu().MoveToOuterDisposeScope());
                distorted.Add(dl.MoveToOuterDisposeScope());
            }
            var tensors = new Dictionary<string, Tensor> { ["distorted"] = cat(distorted, 0), ["clean"] = cat(clean, 0) };
            if (cleanLogVar.Count > 0) tensors["clean_logvar"] = cat(cleanLogVar, 0);
            SafeTensors.Write(shardPath, tensors, new Dictionary<string, string> { ["recipes"] = JsonSerializer.Serialize(recipes), ["vae"] = vae.Name });
            foreach (var t in tensors.Values.Concat(distorted).Concat(clean).Concat(cleanLogVar)) t.Dispose();
            NativeSetup.Trim();
        }
    }

    /// <summary>A random whole-frame crop of the photo (60-100% of each side), maybe mirrored, as the model tile [3, S, S].</summary>
    Tensor MakeTile(string path, Random rng)
    {
        using var img = Image.NewFromFile(path, access: Enums.Access.Random);
        using var rgb = img.Bands >= 3 ? img.ExtractBand(0, n: 3) : img.Colourspace(Enums.Interpretation.Srgb);
        double sx = options.MinCrop + (1 - options.MinCrop) * rng.NextDouble();
        double sy = options.MinCrop + (1 - options.MinCrop) * rng.NextDouble();
        int cw = Math.Max(8, (int)(rgb.Width * sx)), ch = Math.Max(8, (int)(rgb.Height * sy));
        int x = rng.Next(0, rgb.Width - cw + 1), y = rng.Next(0, rgb.Height - ch + 1);
        using var crop = rgb.Crop(x, y, cw, ch);
        using var flipped = rng.NextDouble() < 0.5 ? crop.FlipHor() : crop.Copy();
        var tile = ThumbnailFit.FromImage(flipped, new ThumbnailFitOptions { Size = options.TileSize });
        return tensor(tile.Chw, [3, options.TileSize, options.TileSize]);
    }

    /// <summary>A seed that is the same in every process (HashCode.Combine is randomised per process).</summary>
    static int StableSeed(int a, int b, int c)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (var v in new[] { a, b, c })
        {
            h ^= (uint)v;
            h *= 0xBF58476D1CE4E5B9UL;
            h ^= h >> 31;
        }
        return (int)(h & 0x7fffffff);
    }

    void WriteManifest(string dir, string split, int photos, int luts)
    {
        var manifest = new { split, vae = vae.Name, photos, luts, options.VariantsPerPhoto, IdentityFraction = options.DatasetIdentityFraction, options.Seed, options.ShardSize, options.TileSize, options.MinCrop };
        var path = Path.Combine(dir, "manifest.json");
        var json = JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true });
        if (File.Exists(path) && File.ReadAllText(path) != json)
            throw new InvalidOperationException($"{path}: the cache was built with other settings; use another cache folder or delete this one");
        File.WriteAllText(path, json);
    }

    /// <summary>Loads every shard of a split into memory.</summary>
    public static LatentPairs Load(string cacheDir, string split) => Load([cacheDir], split);

    /// <summary>Loads every shard of a split from several caches (e.g. built with different seeds) into memory.</summary>
    public static LatentPairs Load(IReadOnlyList<string> cacheDirs, string split)
    {
        var files = new List<string>();
        foreach (var cacheDir in cacheDirs)
        {
            var dir = Path.Combine(cacheDir, split);
            var found = Directory.Exists(dir) ? Directory.GetFiles(dir, "shard-*.safetensors").Order(StringComparer.Ordinal).ToList() : [];
            if (found.Count == 0) throw new FileNotFoundException($"{dir}: no cached latent shards; build the dataset first");
            files.AddRange(found);
        }
        var d = new List<Tensor>(); var c = new List<Tensor>(); var lv = new List<Tensor>();
        foreach (var f in files)
        {
            var t = Pretrained.ReadWeights(f);
            d.Add(t["distorted"]); c.Add(t["clean"]);
            if (t.TryGetValue("clean_logvar", out var l)) lv.Add(l);
        }
        var pairs = new LatentPairs(cat(d, 0), cat(c, 0), lv.Count == files.Count ? cat(lv, 0) : null);
        foreach (var t in d.Concat(c).Concat(lv)) t.Dispose();
        return pairs;
    }
}
