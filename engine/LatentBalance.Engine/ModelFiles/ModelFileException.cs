namespace LatentBalance.Engine.ModelFiles; public sealed class ModelFileException(string message, Exception? inner = null) : Exception(message, inner);
