"""Built-in dataset plugins: toy 2D densities, scikit-learn digits, torchvision folders."""
