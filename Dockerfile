FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system tierhub && mkdir -p /var/lib/tierhub && chown tierhub /var/lib/tierhub
USER tierhub
EXPOSE 8000
