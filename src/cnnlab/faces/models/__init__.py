"""Part 2 networks: the MLP (`mlp`), the small CNN (`cnn`), AlexNet's heads (`heads`) and the one
self-describing checkpoint format every face model is saved in (`checkpoints`)."""
