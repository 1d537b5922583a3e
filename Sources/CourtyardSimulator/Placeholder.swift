public enum _PlaceholderCourtyardSimulator {}
