"""A typical PyTorch MNIST autoencoder from a student repository.

Adapted from public student code: DragonChen-TW/PyTorch-AutoEncoder, ae/model.py (encoder
784 -> 256 -> 64 -> latent with ReLU(True) and a linear code, a mirrored decoder). Adapted to the
assignment: input_dim and bottleneck_dim instead of 28 * 28 and latent_dim, a Sigmoid output in
place of the Tanh (the pixels here are in [0, 1], not normalised to [-1, 1]) and nn.BCELoss in place
of MSE, as the assignment asks; the training loop is the repository's DataLoader loop.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Autoencoder(nn.Module):
    def __init__(self, input_dim=784, bottleneck_dim=32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, 256),
            nn.ReLU(True),
            nn.Linear(256, 64),
            nn.ReLU(True),
            nn.Linear(64, bottleneck_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(bottleneck_dim, 64),
            nn.ReLU(True),
            nn.Linear(64, 256),
            nn.ReLU(True),
            nn.Linear(256, input_dim),
            nn.Sigmoid(),
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        out = self.encode(x)
        out = self.decode(out)
        return out


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    model = model.to(device)
    train_loader = DataLoader(TensorDataset(torch.as_tensor(train_x, dtype=torch.float32)),
                              batch_size=batch_size, shuffle=True)
    val_x = torch.as_tensor(val_x, dtype=torch.float32).to(device)
    criterion = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        model.train()
        epoch_loss, n = 0.0, 0
        for (img,) in train_loader:
            img = img.to(device)
            output = model(img)
            loss = criterion(output, img)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * img.size(0)
            n += img.size(0)
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(val_x), val_x).item()
        print(f'epoch [{epoch + 1}/{epochs}], loss:{epoch_loss / n:.4f}, val:{val_loss:.4f}')
        history.append({"epoch": epoch + 1, "train_loss": epoch_loss / n, "val_loss": val_loss})
    return history
