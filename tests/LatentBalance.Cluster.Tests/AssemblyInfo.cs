// silos are heavy (each holds the models): one test class at a time
[assembly: CollectionBehavior(DisableTestParallelization = true)]
