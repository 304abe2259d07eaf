"""The lecture's own autoencoder, written in PyTorch.

Design: the autoencoder of the course's Keras slides (autoencoder lecture, VITMAV45): one
`Dense(k, activation='relu')` code layer and one `Dense(input_dim, activation='sigmoid')` output
layer, binary cross-entropy, Adam. Source: the lecture slides, which follow F. Chollet, "Building
Autoencoders in Keras" (Keras blog, 2016), "a simple autoencoder based on a fully-connected layer".
"""
import torch
import torch.nn as nn


class Autoencoder(nn.Module):
    def __init__(self, input_dim=784, bottleneck_dim=32):
        super().__init__()
        # encoded = Dense(encoding_dim, activation='relu')(input_img)
        self.encoder = nn.Sequential(nn.Linear(input_dim, bottleneck_dim), nn.ReLU())
        # decoded = Dense(784, activation='sigmoid')(encoded)
        self.decoder = nn.Sequential(nn.Linear(bottleneck_dim, input_dim), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    # autoencoder.compile(optimizer='adam', loss='binary_crossentropy'); fit(shuffle=True)
    model.to(device)
    train_x = torch.as_tensor(train_x, dtype=torch.float32).to(device)
    val_x = torch.as_tensor(val_x, dtype=torch.float32).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCELoss()
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(train_x))
        total = 0.0
        for i in range(0, len(train_x), batch_size):
            batch = train_x[perm[i:i + batch_size]]
            loss = loss_fn(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(val_x), val_x).item()
        history.append({"epoch": epoch, "train_loss": total / len(train_x), "val_loss": val_loss})
    return history
