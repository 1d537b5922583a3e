public enum _PlaceholderCourtyardServer {}
