namespace LatentBalance.Engine.ModelFiles;

/// <summary>A model file (weights, checkpoint, config) could not be read or does not fit the model; the message names the file and the reason.</summary>
public sealed class ModelFileException(string message, Exception? inner = null) : Exception(message, inner);
